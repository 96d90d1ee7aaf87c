-- Every event's outcome, per minute and video: explains raw events vs counted views.
CREATE TABLE IF NOT EXISTS view_outcomes_minute (
  minute DateTime('UTC'),
  video_id String,
  outcome LowCardinality(String),
  events UInt64
) ENGINE = SummingMergeTree(events)
PARTITION BY toYYYYMM(minute)
ORDER BY (video_id, minute, outcome)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per bot-rejected event; the IP only as a keyed hash and its /24 (or /48) prefix.
CREATE TABLE IF NOT EXISTS rejected_views (
  ts DateTime64(3, 'UTC'),
  video_id String,
  event_id String,
  score Float32,
  reasons Array(LowCardinality(String)),
  ip_hash String,
  ip_prefix String,
  user_agent String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (video_id, ts)
SETTINGS non_replicated_deduplication_window = 10000;
