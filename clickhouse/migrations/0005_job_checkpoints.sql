-- A copy of every checkpoint that came with a ClickHouse block, written just before the block:
-- no block is ever newer than the latest copy, so after a wiped or restored Redis,
-- `viewtally reconcile --fix` can put each partition back on a checkpoint ClickHouse agrees with.
CREATE TABLE IF NOT EXISTS job_checkpoints (
  group_id String,
  topic String,
  partition UInt32,
  offset UInt64,
  written_at DateTime64(3, 'UTC') DEFAULT now64(3),
  token String,
  state String CODEC(ZSTD(3)),
  block String CODEC(ZSTD(3))
) ENGINE = MergeTree
ORDER BY (group_id, topic, partition, offset)
TTL toDateTime(written_at) + INTERVAL 3 DAY
SETTINGS non_replicated_deduplication_window = 10000;
