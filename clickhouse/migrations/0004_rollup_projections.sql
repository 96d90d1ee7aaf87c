-- Per-video and per-channel projections of the hour and day rollups: one row per (video,
-- bucket) and per (channel, bucket), views summed and unique-viewer states already merged.
--
-- Reading rollup rows is cheap; merging unique-viewer states is not. A popular video has a row
-- per country, device and traffic source in every bucket, each with a uniqCombined(15) state of
-- up to 24 KiB; for a 30-day total of the most popular channel in the latency bench (100 M
-- minute rows) reading its 65 000 day rows took ~10 ms and merging their states ~220 ms. With
-- these projections a series, total or unique-viewer count filtered by video alone or by channel
-- alone merges one state per bucket. Queries with other filters or breakdowns read the rows.
-- The dashboard queries aggregate with exactly these functions (sum, uniqCombinedMergeState(15))
-- so that ClickHouse can pick a projection.
--
-- Each projection is keyed by its own column first: a projection keyed (channel_id, video_id)
-- served channel queries well but made video-only queries scan the whole projection (ten times
-- slower than the table).
--
-- Measured with clickhouse/dashboard-latency.bench.ts --compare-projections (100 M minute rows,
-- 30 days, p50 with / without projections, same run, a busy 2-core machine): total of the most
-- popular channel 170 / 414 ms, unique viewers of the most popular video 68 / 460 ms, 120-day
-- day series 165 / 470 ms, 30-day hour series 352 / 652 ms (video) and 414 / 703 ms (channel).
-- Cost: the hour and day tiers grow by 100-130 % (the long tail has about one projection row per
-- table row, and a channel's merged state is a full 24 KiB sketch). Where storage matters more,
-- drop them: the queries are the same and stay correct.
--
-- deduplicate_merge_projection_mode = 'rebuild' keeps them right when merges collapse rows
-- (AggregatingMergeTree refuses projections otherwise). MATERIALIZE runs as a background
-- mutation on existing parts.
ALTER TABLE views_hour MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE views_hour ADD PROJECTION IF NOT EXISTS by_video (
  SELECT video_id, hour, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY video_id, hour
);

ALTER TABLE views_hour ADD PROJECTION IF NOT EXISTS by_channel (
  SELECT channel_id, hour, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY channel_id, hour
);

ALTER TABLE views_hour MATERIALIZE PROJECTION by_video;

ALTER TABLE views_hour MATERIALIZE PROJECTION by_channel;

ALTER TABLE views_day MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE views_day ADD PROJECTION IF NOT EXISTS by_video (
  SELECT video_id, day, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY video_id, day
);

ALTER TABLE views_day ADD PROJECTION IF NOT EXISTS by_channel (
  SELECT channel_id, day, sum(views), uniqCombinedMergeState(15)(unique_viewers) GROUP BY channel_id, day
);

ALTER TABLE views_day MATERIALIZE PROJECTION by_video;

ALTER TABLE views_day MATERIALIZE PROJECTION by_channel;
