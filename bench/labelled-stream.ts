import { createActor, type Actor, type StreamContext } from './labelled-stream-actors.ts';
import { POPULATIONS, type LabelledEvent, type LabelRules, type Population } from './labelled-stream-labels.ts';
import { Rng, Zipf } from './labelled-stream-random.ts';
import { CARRIER_NAT_IPS } from './labelled-stream-world.ts';

export { requiredWatchMs } from '../operators/view-rules.ts';
export { POPULATIONS, type LabelledEvent, type LabelRules, type Population } from './labelled-stream-labels.ts';
export { videoId, videoMeta, CARRIER_NAT_IPS, CGNAT_IP, type VideoMeta } from './labelled-stream-world.ts';
export { truthOf, type StreamTruth } from './labelled-stream-truth.ts';

/** Share of events per population (normalised); humans ~89 %, bots ~11 %. */
export const DEFAULT_MIX: Readonly<Record<Population, number>> = {
  human_signed_in: 0.44,
  human_anonymous: 0.27,
  human_nat: 0.16,
  human_vpn: 0.015,
  owner: 0.015,
  bot_declared: 0.03,
  bot_ja3: 0.012,
  bot_velocity: 0.02,
  bot_pattern: 0.012,
  bot_datacenter: 0.014,
  bot_replay: 0.012,
  human_cgnat: 0.03,
  bot_farm: 0.015,
};

export interface LabelledStreamOptions {
  seed: number;
  /** Exactly this many events (see {@link LabelledStream}). */
  events: number;
  /** Catalogue size; popularity is Zipf over it. Default 100 000 (a million works: the table is 8 bytes a video). */
  videos?: number;
  zipfExponent?: number;
  /** Channels the catalogue spreads over; default videos / 25. */
  channels?: number;
  /** Start of event time (ms); default 2025-01-06T00:00:00Z. */
  startMs?: number;
  /** Actors arrive over this many minutes; no event is at or after the end. Default 60. */
  minutes?: number;
  /** Share of events per population (normalised); unnamed ones keep {@link DEFAULT_MIX}, 0 removes one. */
  mix?: Partial<Record<Population, number>>;
  /** How many carrier-NAT exits the NAT population shares (few: each carries many people). Default 6. */
  natIps?: number;
  /** The pipeline's view rules the labels follow; defaults match the pipeline's (30 s, 50 %, 30 min). */
  rules?: Partial<LabelRules>;
  /** A viral spike: one video takes `factor` times its Zipf share for a while. Default none. */
  spike?: SpikeOptions;
  /** Offline phones: some people's beacons all arrive late, in their order, minutes to hours after their `ts`. Default none. */
  late?: LateOptions;
  /** Chance that a person refreshes (re-watches) the video just watched, each time; default 0.08. */
  refreshRate?: number;
  /** Chance that a view beacon is retried with the same event_id; default 0.03. */
  retryRate?: number;
}

/** A viral spike of one video. */
export interface SpikeOptions {
  /** Popularity rank of the spiking video; default 100. */
  rank?: number;
  /** Its share of the picks during the spike, as a multiple of its Zipf share; default 10. */
  factor?: number;
  /** Start of the spike, in minutes from the stream start; default a third of the span. */
  fromMinute?: number;
  /** Length of the spike; default a third of the span. */
  minutes?: number;
}

/** Late mobile beacons. */
export interface LateOptions {
  /** Target share of all events that arrive late (≈; whole offline people are drawn, so it varies). */
  share: number;
  /** Shortest and longest delay (ms), log-uniform between; default 2 min and 6 h. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export type ResolvedStreamOptions = Required<Omit<LabelledStreamOptions, 'mix' | 'rules' | 'spike' | 'late'>> & {
  mix: Record<Population, number>;
  rules: LabelRules;
  spike: Required<SpikeOptions> | null;
  late: Required<LateOptions> | null;
};

/**
 * A deterministic labelled stream. `events()` regenerates it from the seed on every call, holding
 * only the actors in flight (memory stays flat for millions of events); `toArray()` collects it.
 * Events come in event-time order (ties in a fixed order), so each (viewer key, video) pair's
 * events are in non-decreasing `ts`; with `late`, an offline person's events come in their own
 * order but a fixed delay after their `ts`. The stream stops at exactly `events` events; arrivals are
 * provisioned ~5 % above that, so the last minute or two of the span can be thin. Memory follows
 * the actors in flight, i.e. the event rate: ~100 MB at 1 M events per hour of event time, ~470 MB
 * at 5 M per hour; spread big streams over more minutes (5 M over 300 minutes: ~120 MB).
 */
export interface LabelledStream {
  readonly options: ResolvedStreamOptions;
  /** Actors per population, as planned. */
  readonly actors: Readonly<Record<Population, number>>;
  events(): Generator<LabelledEvent, void, void>;
  toArray(): LabelledEvent[];
}

const MINUTE = 60_000;
const PROVISION = 1.05;

/** Plans a labelled stream for `options`; generation happens when its events are iterated. */
export function generateLabelledStream(options: LabelledStreamOptions): LabelledStream {
  const o = resolve(options);
  const zipf = new Zipf(o.videos, o.zipfExponent);
  const perActor = calibrate(o, zipf);
  const actors = {} as Record<Population, number>;
  for (const p of POPULATIONS) actors[p] = o.mix[p] > 0 ? Math.max(1, Math.round((o.events * o.mix[p] * PROVISION) / perActor[p])) : 0;
  const events = () => schedule(o, zipf, actors);
  return { options: o, actors, events, toArray: () => [...events()] };
}

function resolve(options: LabelledStreamOptions): ResolvedStreamOptions {
  const videos = options.videos ?? 100_000;
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const total = POPULATIONS.reduce((s, p) => s + mix[p], 0);
  for (const p of POPULATIONS) mix[p] /= total;
  const o: ResolvedStreamOptions = {
    seed: options.seed >>> 0,
    events: options.events,
    videos,
    zipfExponent: options.zipfExponent ?? 1.0,
    channels: options.channels ?? Math.max(1, Math.floor(videos / 25)),
    startMs: options.startMs ?? Date.UTC(2025, 0, 6),
    minutes: options.minutes ?? 60,
    mix,
    natIps: options.natIps ?? 6,
    rules: { minWatchMs: 30_000, minWatchFraction: 0.5, sessionWindowMs: 30 * MINUTE, ...options.rules },
    spike: null,
    late: null,
    refreshRate: options.refreshRate ?? 0.08,
    retryRate: options.retryRate ?? 0.03,
  };
  if (options.spike) {
    const third = o.minutes / 3;
    o.spike = { rank: options.spike.rank ?? 100, factor: options.spike.factor ?? 10, fromMinute: options.spike.fromMinute ?? third, minutes: options.spike.minutes ?? third };
    if (!Number.isSafeInteger(o.spike.rank) || o.spike.rank < 0 || o.spike.rank >= o.videos) throw new RangeError(`spike.rank must be a rank in 0..${o.videos - 1}`);
    if (!(o.spike.factor >= 1) || !(o.spike.minutes > 0)) throw new RangeError('spike.factor must be ≥ 1 and spike.minutes positive');
  }
  if (options.late && options.late.share > 0) {
    o.late = { share: options.late.share, minDelayMs: options.late.minDelayMs ?? 2 * MINUTE, maxDelayMs: options.late.maxDelayMs ?? 6 * 60 * MINUTE };
    if (!(o.late.share < 0.5) || !(o.late.minDelayMs > 0) || !(o.late.maxDelayMs >= o.late.minDelayMs)) throw new RangeError('late.share must be in [0, 0.5) and 0 < minDelayMs ≤ maxDelayMs');
  }
  if (!(o.refreshRate >= 0 && o.refreshRate < 1) || !(o.retryRate >= 0 && o.retryRate < 1)) throw new RangeError('refreshRate and retryRate must be in [0, 1)');
  if (!Number.isSafeInteger(o.events) || o.events < 0) throw new RangeError(`events must be a non-negative integer, got ${o.events}`);
  if (!Number.isSafeInteger(o.videos) || o.videos < 1 || !Number.isSafeInteger(o.channels) || o.channels < 1) throw new RangeError('videos and channels must be positive integers');
  if (!(o.minutes > 0)) throw new RangeError(`minutes must be positive, got ${o.minutes}`);
  if (POPULATIONS.some((p) => !(o.mix[p] >= 0)) || total <= 0) throw new RangeError('mix shares must be non-negative with a positive sum');
  if (o.natIps < 1 || o.natIps > CARRIER_NAT_IPS.length) throw new RangeError(`natIps must be 1..${CARRIER_NAT_IPS.length}`);
  return o;
}

function context(o: ResolvedStreamOptions, zipf: Zipf, rng: Rng, actors: Record<Population, number> | null): StreamContext {
  const prefix = `${o.seed.toString(36)}-`;
  let id = 0;
  // The first natIps - 1 exits plus the last one (IPv6), so both address families appear.
  const nat = CARRIER_NAT_IPS.slice(0, o.natIps - 1).concat(CARRIER_NAT_IPS[CARRIER_NAT_IPS.length - 1]);
  return {
    rng,
    zipf,
    channels: o.channels,
    rules: o.rules,
    households: actors ? Math.max(1, Math.round((actors.human_signed_in + actors.human_anonymous + actors.owner) / 1.5)) : 1,
    vpnExits: actors ? Math.max(1, actors.human_vpn) : 1,
    natIps: o.natIps === 1 ? [CARRIER_NAT_IPS[0]] : nat,
    nextId: () => prefix + (id++).toString(36),
    spike: o.spike && {
      rank: o.spike.rank,
      fromMs: o.startMs + o.spike.fromMinute * MINUTE,
      toMs: o.startMs + (o.spike.fromMinute + o.spike.minutes) * MINUTE,
      // Picked on top of the Zipf draw, so the video's share becomes factor × its own: x + (1 − x)p = factor·p.
      extra: Math.min(1, ((o.spike.factor - 1) * zipf.probability(o.spike.rank)) / (1 - zipf.probability(o.spike.rank))),
    },
    refreshRate: o.refreshRate,
    retryRate: o.retryRate,
  };
}

/** Mean events per actor of each population within the span, measured on a small sample with its own randomness. */
function calibrate(o: ResolvedStreamOptions, zipf: Zipf): Record<Population, number> {
  const end = o.startMs + o.minutes * MINUTE;
  const result = {} as Record<Population, number>;
  POPULATIONS.forEach((p, i) => {
    result[p] = 1;
    if (o.mix[p] === 0) return;
    const rng = new Rng(o.seed ^ (0x51ed270b + i));
    const ctx = context(o, zipf, rng, null);
    let actors = 0;
    let events = 0;
    while (actors < 150 && events < 6_000) {
      const t0 = o.startMs + Math.floor(rng.float() * (end - o.startMs));
      for (const x of createActor(ctx, p, t0, actors)) {
        if (typeof x === 'number' && x >= end) break;
        if (typeof x !== 'number') events++;
      }
      actors++;
    }
    result[p] = Math.max(1, events / actors);
  });
  return result;
}

interface Entry {
  /** When the entry is due: the event's time plus its actor's delivery delay. */
  ts: number;
  seq: number;
  population: Population;
  /** null for a population's spawner, whose `ordinal` is the next actor to create. */
  actor: Actor | null;
  ordinal: number;
  /** How late this actor's events arrive (0: on time). */
  delay: number;
}

const PEOPLE: readonly Population[] = ['human_signed_in', 'human_anonymous', 'human_nat', 'human_vpn'];

function* schedule(o: ResolvedStreamOptions, zipf: Zipf, actors: Record<Population, number>): Generator<LabelledEvent, void, void> {
  if (o.events === 0) return;
  const rng = new Rng(o.seed);
  const ctx = context(o, zipf, rng, actors);
  const span = o.minutes * MINUTE;
  const end = o.startMs + span;
  const heap = new EntryHeap();
  let seq = 0;
  // Arrivals sit on a jittered grid: the planned number of actors, evenly spread over the span.
  const arrival = (p: Population, i: number) => o.startMs + Math.floor(((i + rng.float()) * span) / actors[p]);
  for (const p of POPULATIONS) if (actors[p] > 0) heap.push({ ts: arrival(p, 0), seq: seq++, population: p, actor: null, ordinal: 0, delay: 0 });
  // Offline phones: whole people, so each keeps its own order; drawn among people to reach the share of events.
  const late = o.late;
  const peopleShare = PEOPLE.reduce((s, p) => s + o.mix[p], 0);
  const offlineChance = late && peopleShare > 0 ? Math.min(1, late.share / peopleShare) : 0;
  const delayOf = () => (late ? Math.round(late.minDelayMs * Math.pow(late.maxDelayMs / late.minDelayMs, rng.float())) : 0);

  const advance = (actor: Actor, population: Population, after: number, delay: number) => {
    const r = actor.next();
    if (r.done) return;
    const ts = r.value;
    if (typeof ts !== 'number') throw new Error(`labelled stream: a ${population} actor yielded an event before announcing its time`);
    if (ts < after) throw new Error(`labelled stream: a ${population} actor went back in time (${ts} < ${after})`);
    if (ts >= end) {
      actor.return();
      return;
    }
    heap.push({ ts: ts + delay, seq: seq++, population, actor, ordinal: 0, delay });
  };

  let emitted = 0;
  for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
    if (e.actor === null) {
      const offline = offlineChance > 0 && PEOPLE.includes(e.population) && rng.chance(offlineChance);
      const delay = offline ? delayOf() : 0;
      ctx.clock = e.ts;
      advance(createActor(ctx, e.population, e.ts, e.ordinal, offline), e.population, e.ts, delay);
      if (e.ordinal + 1 < actors[e.population]) heap.push({ ts: arrival(e.population, e.ordinal + 1), seq: seq++, population: e.population, actor: null, ordinal: e.ordinal + 1, delay: 0 });
      continue;
    }
    const eventTs = e.ts - e.delay;
    ctx.clock = eventTs;
    const r = e.actor.next();
    if (r.done || typeof r.value === 'number' || r.value.event.ts !== eventTs) throw new Error(`labelled stream: a ${e.population} actor did not produce the event it announced for ${eventTs}`);
    yield r.value;
    if (++emitted === o.events) return;
    advance(e.actor, e.population, eventTs, e.delay);
  }
}

/** A binary min-heap of entries by (ts, seq): the merge order of all actors, fully deterministic. */
class EntryHeap {
  private readonly items: Entry[] = [];

  push(e: Entry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, a[parent])) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = e;
  }

  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const c = l + 1 < a.length && before(a[l + 1], a[l]) ? l + 1 : l;
      if (!before(a[c], last)) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
    return top;
  }
}

function before(x: Entry, y: Entry): boolean {
  return x.ts < y.ts || (x.ts === y.ts && x.seq < y.seq);
}
