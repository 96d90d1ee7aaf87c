import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { viewerKeyId, viewerKeyPrefix } from '../schemas/viewer-key.ts';
import type { PartitionBatch, ViewRecord } from './view-record.ts';
import type { DedupStore } from './dedup-store.ts';
import type { Fingerprinter } from './fingerprint.ts';
import type { PartitionWatermark } from './watermark.ts';
import type { BotScorer } from './bot-scorer.ts';
import { requiredWatchMs, type TimeRules, type ViewRules } from './view-rules.ts';
import { RECORD_LATE } from '../schemas/address-messages.ts';

/** The per-partition state the rules consult and update. */
export interface ClassifyState {
  watermark: PartitionWatermark;
  eventIds: DedupStore;
  sessions: DedupStore;
  bots: BotScorer;
  /** The seeded fingerprints every key is stored under. */
  fingerprints: Fingerprinter;
}

/**
 * Decides each record's outcome — the one place where outcomes are decided. The first rule that
 * applies wins: invalid, not_a_view, too_late, duplicate (event_id), owner, too_short, bot,
 * duplicate (session), counted. Decisions depend only on the partition's order and event time,
 * so a replay from a checkpoint decides the same. Also sets the record's video and viewer-key
 * fingerprints, which the windows and live counters use.
 */
export function classifyRecord(r: ViewRecord, s: ClassifyState, view: ViewRules, time: TimeRules): void {
  if (r.outcome !== null) return;
  const fp = s.fingerprints;
  const e = r.event;
  fp.string(e === null ? '' : e.video_id);
  r.videoHi = fp.hi;
  r.videoLo = fp.lo;
  if (e === null) {
    r.outcome = 'invalid';
    r.error ??= 'undecodable';
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
  fp.string(e.event_id);
  if (!Number.isNaN(s.eventIds.get(fp.hi, fp.lo, e.ts))) {
    r.outcome = 'duplicate';
    return;
  }
  s.eventIds.set(fp.hi, fp.lo, e.ts);
  if (e.owner_id !== null && e.owner_id === e.viewer_id) {
    r.outcome = 'owner';
    return;
  }
  if (e.watch_ms < requiredWatchMs(e.video_duration_ms, view)) {
    r.outcome = 'too_short';
    return;
  }
  const prefix = viewerKeyPrefix(e);
  const id = viewerKeyId(e, prefix);
  fp.begin();
  fp.add(prefix);
  fp.add(id);
  fp.end();
  r.viewerHi = fp.hi;
  r.viewerLo = fp.lo;
  const bot = s.bots.score(e, r.viewerHi, r.viewerLo);
  r.addressHi = s.bots.addressHi;
  r.addressLo = s.bots.addressLo;
  // Late for the address stage when older than this partition's watermark: decided here, in partition order, so a replay decides the same.
  r.addressFlags = s.bots.addressFlags | (e.ts < s.watermark.current ? RECORD_LATE : 0);
  if (bot) {
    r.outcome = 'bot';
    r.bot = s.bots.verdict();
    return;
  }
  // The session key is the string `<viewer key>|<video id>`, fingerprinted without building it.
  fp.begin();
  fp.add(prefix);
  fp.add(id);
  fp.add('|');
  fp.add(e.video_id);
  fp.end();
  const last = s.sessions.get(fp.hi, fp.lo, e.ts);
  if (!Number.isNaN(last) && Math.abs(e.ts - last) < view.sessionWindowMs) {
    r.outcome = 'duplicate';
    return;
  }
  s.sessions.set(fp.hi, fp.lo, e.ts);
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
