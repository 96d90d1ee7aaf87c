-- Hour and day rollups of views_minute, and the retention tiers of all three (TTL).
--
-- Both rollups are fed from views_minute by materialized views, so every block the job writes
-- (through views_minute_in) lands in minute, hour and day at once. Deduplication follows it:
-- with deduplicate_blocks_in_dependent_materialized_views = 1 a block re-sent with the same
-- insert_deduplication_token is dropped by every target, hence the window on each table.
--
-- Retention defaults (clickhouse/retention.ts changes them): minute rows 7 days, hour rows
-- 90 days, day rows 1096 days (3 years, leap day included). Tables are partitioned by time and
-- ttl_only_drop_parts = 1, so expiry drops whole parts instead of rewriting them. An expired
-- row may therefore live on until the rest of its partition expires (up to a day for minute
-- rows, a month for hour and day rows); readers must not rely on it being gone.
--
-- category is part of the sorting key: merges collapse rows with equal keys, and a column
-- outside the key would keep an arbitrary value of the collapsed rows. It is functionally
-- dependent on video_id, so the extra key column costs no extra rows.
--
-- No backfill: rows already in views_minute when this migration runs (at most 7 days) are not
-- rolled up. To roll them up, stop the job and run an INSERT INTO views_hour/views_day SELECT
-- grouped like the views below, once.
CREATE TABLE IF NOT EXISTS views_hour (
  hour DateTime('UTC'),
  video_id String,
  channel_id String,
  category LowCardinality(String),
  country LowCardinality(String),
  device LowCardinality(String),
  traffic_source LowCardinality(String),
  views SimpleAggregateFunction(sum, UInt64),
  unique_viewers AggregateFunction(uniqCombined(15), String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (channel_id, video_id, hour, country, device, traffic_source, category)
TTL hour + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS views_day (
  day Date,
  video_id String,
  channel_id String,
  category LowCardinality(String),
  country LowCardinality(String),
  device LowCardinality(String),
  traffic_source LowCardinality(String),
  views SimpleAggregateFunction(sum, UInt64),
  unique_viewers AggregateFunction(uniqCombined(15), String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (channel_id, video_id, day, country, device, traffic_source, category)
TTL day + INTERVAL 1096 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

-- Day rows are UTC days: toDate of a DateTime('UTC') column is its UTC date. Dashboards that
-- need another zone's days read hour rows while they exist (clickhouse/time-plan.ts).
CREATE MATERIALIZED VIEW IF NOT EXISTS views_hour_mv TO views_hour AS
SELECT toStartOfHour(minute) AS hour, video_id, channel_id, category, country, device, traffic_source,
       sum(views) AS views, uniqCombinedMergeState(15)(unique_viewers) AS unique_viewers
FROM views_minute
GROUP BY hour, video_id, channel_id, category, country, device, traffic_source;

CREATE MATERIALIZED VIEW IF NOT EXISTS views_day_mv TO views_day AS
SELECT toDate(minute) AS day, video_id, channel_id, category, country, device, traffic_source,
       sum(views) AS views, uniqCombinedMergeState(15)(unique_viewers) AS unique_viewers
FROM views_minute
GROUP BY day, video_id, channel_id, category, country, device, traffic_source;

ALTER TABLE views_minute MODIFY SETTING ttl_only_drop_parts = 1;

ALTER TABLE views_minute MODIFY TTL minute + INTERVAL 7 DAY;
