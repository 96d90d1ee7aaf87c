import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { PartitionBatch, ViewRecord } from './view-record.ts';
import { requiredWatchMs, type TimeRules, type ViewRules } from './view-rules.ts';
import type { BoundedTtlMap } from './bounded-ttl-map.ts';
import type { PartitionWatermark } from './watermark.ts';
import type { BotScorer } from './bot-scorer.ts';

/** The per-partition state the rules consult and update. */
export interface ClassifyState {
  watermark: PartitionWatermark;
  eventIds: BoundedTtlMap;
  sessions: BoundedTtlMap;
  bots: BotScorer;
}

/**
 * Decides each record's outcome — the one place where outcomes are decided. The first rule that
 * applies wins: invalid, not_a_view, too_late, duplicate (event_id), owner, too_short, bot,
 * duplicate (session), counted. Decisions depend only on the partition's order and event time,
 * so a replay from a checkpoint decides the same.
 */
export function classifyRecord(r: ViewRecord, s: ClassifyState, view: ViewRules, time: TimeRules): void {
  if (r.outcome !== null) return;
  const e = r.event;
  if (e === null) {
    r.outcome = 'invalid';
    return;
  }
  if (e.ts > r.kafkaTs + time.maxFutureSkewMs) {
    r.outcome = 'invalid';
    r.error = `ts: ${e.ts} is more than ${time.maxFutureSkewMs} ms after the event reached Kafka (${r.kafkaTs})`;
    return;
  }
  s.watermark.observe(e.ts);
  if (e.event_type !== 'view') {
    r.outcome = 'not_a_view';
    return;
  }
  if (e.ts < s.watermark.current - time.maxLatenessMs) {
    r.outcome = 'too_late';
    return;
  }
  if (s.eventIds.get(e.event_id, e.ts) !== undefined) {
    r.outcome = 'duplicate';
    return;
  }
  s.eventIds.set(e.event_id, e.ts);
  if (e.owner_id !== null && e.owner_id === e.viewer_id) {
    r.outcome = 'owner';
    return;
  }
  if (e.watch_ms < requiredWatchMs(e.video_duration_ms, view)) {
    r.outcome = 'too_short';
    return;
  }
  const verdict = s.bots.score(e, r.viewerKey);
  if (verdict.bot) {
    r.outcome = 'bot';
    r.bot = verdict;
    return;
  }
  const pair = `${r.viewerKey}|${e.video_id}`;
  const last = s.sessions.get(pair, e.ts);
  if (last !== undefined && Math.abs(e.ts - last) < view.sessionWindowMs) {
    r.outcome = 'duplicate';
    return;
  }
  s.sessions.set(pair, e.ts);
  r.outcome = 'counted';
}

/** Classifies every record of a batch and expires dedup state that left its horizon. */
export function classify<T extends PartitionBatch>(deps: { state: (batch: T) => ClassifyState; view: ViewRules; time: TimeRules }): MonoTypeOperatorFunction<T> {
  return map((batch) => {
    const s = deps.state(batch);
    for (const r of batch.records) classifyRecord(r, s, deps.view, deps.time);
    s.eventIds.expire(s.watermark.current);
    s.sessions.expire(s.watermark.current);
    return batch;
  });
}
