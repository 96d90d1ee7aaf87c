-- Counted views per minute and dimensions. `views` sums; `unique_viewers` is a mergeable
-- uniqCombined state at precision 15 (≈0.6 % error, ≤ 24 KiB only for rows with many viewers).
CREATE TABLE IF NOT EXISTS views_minute (
  minute DateTime('UTC'),
  video_id String,
  channel_id String,
  category LowCardinality(String),
  country LowCardinality(String),
  device LowCardinality(String),
  traffic_source LowCardinality(String),
  views SimpleAggregateFunction(sum, UInt64),
  unique_viewers AggregateFunction(uniqCombined(15), String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (channel_id, video_id, minute, country, device, traffic_source, category)
SETTINGS non_replicated_deduplication_window = 10000;

-- The sink writes here: viewer keys travel as an array and become a state in the view below,
-- so the job never builds ClickHouse's binary state format itself.
CREATE TABLE IF NOT EXISTS views_minute_in (
  minute DateTime('UTC'),
  video_id String,
  channel_id String,
  category String,
  country String,
  device String,
  traffic_source String,
  views UInt64,
  viewers Array(String)
) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS views_minute_mv TO views_minute AS
SELECT minute, video_id, channel_id, category, country, device, traffic_source, views,
       arrayReduce('uniqCombinedState(15)', viewers) AS unique_viewers
FROM views_minute_in;
