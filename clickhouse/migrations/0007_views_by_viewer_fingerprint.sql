-- The job sends viewers as the 64-bit fingerprints of their viewer keys (the keys its state is
-- stored under), in RowBinary, instead of the key strings. A new input table takes those rows
-- and its own view turns them into the same unique-viewer state as before (over the decimal
-- text of the fingerprint), so views_minute and its rollups keep their types. The old input
-- table and its view stay, so a job of the previous version still running during an upgrade
-- loses nothing. A viewer seen both before and after the upgrade, in one rollup row, counts
-- twice in that row's unique-viewer estimate.
CREATE TABLE IF NOT EXISTS views_minute_rows (
  minute DateTime('UTC'),
  video_id String,
  channel_id String,
  category String,
  country String,
  device String,
  traffic_source String,
  views UInt64,
  viewers Array(UInt64)
) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS views_minute_rows_mv TO views_minute AS
SELECT minute, video_id, channel_id, category, country, device, traffic_source, views,
       arrayReduce('uniqCombinedState(15)', arrayMap(v -> toString(v), viewers)) AS unique_viewers
FROM views_minute_rows;
