-- A marker for every insert of a block: the insert's own `insert_deduplication_token`, written by
-- a materialized view of the table the block goes into, so by the same insert as the rows.
--
-- Recovery re-inserts the block a previous owner recorded but may not have written. The tokens
-- make that a no-op only while the table still remembers them (non_replicated_deduplication_window
-- blocks here; replicated_deduplication_window blocks and _seconds on a cluster): hundreds of
-- partitions writing every 5 s push a block out of that memory in minutes. So recovery first asks
-- this table which of the block's inserts landed (sinks/landed-blocks.ts) and re-inserts the rest.
--
-- What a marker proves: a writer killed at any moment leaves each of its inserts either done by
-- the server (every row and the marker) or not done at all (an insert cut off mid-body fails
-- before its one block is written: the job's blocks are far below max_insert_block_size). An insert that fails inside ClickHouse can keep some of its views' writes and
-- not others, in no fixed order (a marker without its rows, or rows without it); its writer sees
-- the error and retries on the tokens alone, at once, which the windows above do cover.
--
-- Only the tables this version's sink writes have markers (a pending block of the previous
-- version cannot be read by this one anyway). Inserts without a token (backfills) leave none. Markers live 7 days, Kafka's
-- default retention: a partition without an owner for longer has lost events anyway.
CREATE TABLE IF NOT EXISTS landed_blocks (
  token String,
  table_name LowCardinality(String),
  landed_at DateTime('UTC') DEFAULT now()
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(landed_at)
ORDER BY token
TTL landed_at + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS views_minute_rows_landed TO landed_blocks AS
SELECT getSetting('insert_deduplication_token') AS token, 'views_minute_rows' AS table_name
FROM views_minute_rows WHERE token != '' LIMIT 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS view_outcomes_minute_landed TO landed_blocks AS
SELECT getSetting('insert_deduplication_token') AS token, 'view_outcomes_minute' AS table_name
FROM view_outcomes_minute WHERE token != '' LIMIT 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS rejected_views_landed TO landed_blocks AS
SELECT getSetting('insert_deduplication_token') AS token, 'rejected_views' AS table_name
FROM rejected_views WHERE token != '' LIMIT 1;
