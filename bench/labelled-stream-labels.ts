import type { Outcome, ViewEvent } from '../schemas/view-event.ts';
import type { Rng } from './labelled-stream-random.ts';
import type { VideoMeta } from './labelled-stream-world.ts';
import { requiredWatchMs } from '../operators/view-rules.ts';

/**
 * Who produced an event. Humans must never be scored as bots; every `bot_*` event reaching the bot
 * rule must be. New populations go at the end: a stream that leaves them out stays the same.
 */
export const POPULATIONS = [
  'human_signed_in', 'human_anonymous', 'human_nat', 'human_vpn', 'owner',
  'bot_declared', 'bot_ja3', 'bot_velocity', 'bot_pattern', 'bot_datacenter', 'bot_replay',
  'human_cgnat', 'bot_farm',
] as const;
export type Population = (typeof POPULATIONS)[number];

/** One generated event with the outcome the pipeline must give it. */
export interface LabelledEvent {
  event: ViewEvent;
  expected: Outcome;
  population: Population;
}

/** The pipeline's view rules the labels follow. */
export interface LabelRules {
  minWatchMs: number;
  minWatchFraction: number;
  sessionWindowMs: number;
}


/**
 * The expected outcome of each event of one actor, following the pipeline's rule order exactly
 * (invalid and too_late never occur here): not_a_view, duplicate (event_id), owner, too_short, bot,
 * duplicate (session: within the window of the pair's last counted view), counted. Session state is
 * per actor, which is exact because no two actors share a (viewer key, video) pair, and an actor
 * keeps one viewer key (anonymous people have one session), so its pairs are its videos.
 */
export class Labeller {
  private readonly rules: LabelRules;
  private readonly population: Population;
  // Per video watched: [meta, last counted ts (-1: none), views that reached the bot rule]; one small array per actor.
  private readonly state: Array<VideoMeta | number> = [];

  constructor(rules: LabelRules, population: Population) {
    this.rules = rules;
    this.population = population;
  }

  label(e: ViewEvent): LabelledEvent {
    return { event: e, expected: this.outcome(e), population: this.population };
  }

  /** A network retry: the same event again, same event_id. */
  retry(original: LabelledEvent): LabelledEvent {
    const e = { ...original.event };
    return { event: e, expected: e.event_type === 'view' ? 'duplicate' : 'not_a_view', population: this.population };
  }

  /** Notes that the actor starts watching `v`. */
  watch(v: VideoMeta): void {
    if (this.indexOf(v.video_id) < 0) this.state.push(v, -1, 0);
  }

  /** A video this actor watched before, or null. */
  revisit(rng: Rng): VideoMeta | null {
    const n = this.state.length / 3;
    return n === 0 ? null : (this.state[3 * rng.int(n)] as VideoMeta);
  }

  /** How many views of `v` reached the bot rule so far. */
  views(v: VideoMeta): number {
    const i = this.indexOf(v.video_id);
    return i < 0 ? 0 : (this.state[i + 2] as number);
  }

  private indexOf(video_id: string): number {
    for (let i = 0; i < this.state.length; i += 3) if ((this.state[i] as VideoMeta).video_id === video_id) return i;
    return -1;
  }

  private outcome(e: ViewEvent): Outcome {
    if (e.event_type !== 'view') return 'not_a_view';
    if (e.owner_id !== null && e.owner_id === e.viewer_id) return 'owner';
    if (e.watch_ms < requiredWatchMs(e.video_duration_ms, this.rules)) return 'too_short';
    if (this.population.startsWith('bot_')) return 'bot';
    const i = this.indexOf(e.video_id);
    if (i < 0) throw new Error('labelled stream: a person viewed a video without watching it');
    this.state[i + 2] = (this.state[i + 2] as number) + 1;
    const last = this.state[i + 1] as number;
    if (last >= 0 && e.ts - last < this.rules.sessionWindowMs) return 'duplicate';
    this.state[i + 1] = e.ts;
    return 'counted';
  }
}
