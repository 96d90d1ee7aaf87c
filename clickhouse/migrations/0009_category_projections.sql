-- Per-category projections of all three tiers: one row per (category, bucket), views summed and
-- unique-viewer states merged, for the dashboard's all-channel totals of a category.
--
-- Without them that query merges a state per matching row: ~1/24 of the day rows for a 30-day
-- total over 100 M minute rows (1 215 ms p95), and at the range's ends every minute row of the
-- current day, since minute is not a prefix of the sorting key. With them it merges one state per
-- category and bucket. Same shape as the by_video and by_channel projections of 0004: keyed by its
-- own column first, aggregated with exactly the dashboard queries' functions so ClickHouse can
-- pick it.
--
-- Granules are small (an hour of minutes, a day of hours, a month of days): a granule is read
-- whole, and at 8 192 rows a granule decoding the unique-viewer states of the categories a query
-- does not ask for took 130 of the 140 ms of the query's hour rows; at 24 rows, 8 ms in all.
--
-- Cost: 24 rows per minute, hour and day (one per category), each with a sketch of at most
-- 24 KiB: under 1 GiB a day of minute projection at the densest, a few % of the minute rows.
ALTER TABLE views_minute MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE views_minute ADD PROJECTION IF NOT EXISTS by_category (
  SELECT category, minute, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY category, minute
) WITH SETTINGS (index_granularity = 64);

ALTER TABLE views_minute MATERIALIZE PROJECTION by_category;

ALTER TABLE views_hour ADD PROJECTION IF NOT EXISTS by_category (
  SELECT category, hour, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY category, hour
) WITH SETTINGS (index_granularity = 24);

ALTER TABLE views_hour MATERIALIZE PROJECTION by_category;

ALTER TABLE views_day ADD PROJECTION IF NOT EXISTS by_category (
  SELECT category, day, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY category, day
) WITH SETTINGS (index_granularity = 32);

ALTER TABLE views_day MATERIALIZE PROJECTION by_category;
