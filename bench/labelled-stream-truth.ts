import { OUTCOMES, type Outcome, type ViewEvent } from '../schemas/view-event.ts';
import { viewerKey as defaultViewerKey } from '../schemas/viewer-key.ts';
import { POPULATIONS, type LabelledEvent, type Population } from './labelled-stream-labels.ts';

/** What the pipeline must report for a labelled stream, computed from the labels alone. */
export interface StreamTruth {
  events: number;
  outcomes: Record<Outcome, number>;
  populations: Record<Population, number>;
  /** Counted views per video_id (the Redis `vt:views:{id}` total). */
  countedByVideo: Map<string, number>;
  /** Counted views per {@link dimsKey}(minute, video_id, country, device, traffic_source) (`views_minute`). */
  countedByMinuteDims: Map<string, number>;
  /** Events per {@link outcomeKey}(minute, video_id, outcome) (`view_outcomes_minute`). */
  outcomesByMinute: Map<string, number>;
  /** Distinct viewer keys among each video's counted views (the `vt:uniq:{id}` HyperLogLog's target). */
  uniqueViewersByVideo: Map<string, number>;
}

/** Start of the UTC minute of `ts` (ms). */
export function minuteOf(ts: number): number {
  return ts - (((ts % 60_000) + 60_000) % 60_000);
}

/** Key of {@link StreamTruth.countedByMinuteDims}: `minute|video_id|country|device|traffic_source`. */
export function dimsKey(minute: number, e: Pick<ViewEvent, 'video_id' | 'country' | 'device' | 'traffic_source'>): string {
  return `${minute}|${e.video_id}|${e.country}|${e.device}|${e.traffic_source}`;
}

/** Key of {@link StreamTruth.outcomesByMinute}: `minute|video_id|outcome`. */
export function outcomeKey(minute: number, video_id: string, outcome: Outcome): string {
  return `${minute}|${video_id}|${outcome}`;
}

/** Folds a labelled stream (an array or the generator itself) into the truth the sinks must match. */
export function truthOf(events: Iterable<LabelledEvent>, viewerKey: (e: ViewEvent) => string = defaultViewerKey): StreamTruth {
  const t: StreamTruth = {
    events: 0,
    outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
    populations: Object.fromEntries(POPULATIONS.map((p) => [p, 0])) as Record<Population, number>,
    countedByVideo: new Map(),
    countedByMinuteDims: new Map(),
    outcomesByMinute: new Map(),
    uniqueViewersByVideo: new Map(),
  };
  const viewers = new Map<string, Set<string>>();
  for (const { event: e, expected, population } of events) {
    t.events++;
    t.outcomes[expected]++;
    t.populations[population]++;
    const minute = minuteOf(e.ts);
    bump(t.outcomesByMinute, outcomeKey(minute, e.video_id, expected));
    if (expected !== 'counted') continue;
    bump(t.countedByVideo, e.video_id);
    bump(t.countedByMinuteDims, dimsKey(minute, e));
    let set = viewers.get(e.video_id);
    if (set === undefined) viewers.set(e.video_id, (set = new Set()));
    set.add(viewerKey(e));
  }
  for (const [video, set] of viewers) t.uniqueViewersByVideo.set(video, set.size);
  return t;
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
