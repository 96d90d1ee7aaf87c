import type { Device, TrafficSource, ViewEvent } from '../schemas/view-event.ts';
import { requiredWatchMs } from '../operators/view-rules.ts';
import { Labeller, type LabelledEvent, type LabelRules, type Population } from './labelled-stream-labels.ts';
import { mix32, type Rng, type Zipf } from './labelled-stream-random.ts';
import {
  botDatacenterIp, botProxyIp, browserJa3, CGNAT_IP, COUNTRIES, DECLARED_BOT_UAS, DENIED_JA3, DEVICES, householdIp,
  humanUserAgent, TRAFFIC_SOURCES, videoId, videoMeta, vpnIp, type VideoMeta,
} from './labelled-stream-world.ts';

/** Shared by all actors of one stream. */
export interface StreamContext {
  rng: Rng;
  zipf: Zipf;
  channels: number;
  rules: LabelRules;
  /** Number of simulated homes (non-NAT humans share them, a few people each). */
  households: number;
  vpnExits: number;
  natIps: readonly string[];
  /** Unique-id mint: event ids, session ids, viewer ids. */
  nextId(): string;
  /** The scheduler's time (the event being emitted); actors pick their next video at it. */
  clock?: number;
  /** A viral spike: inside [fromMs, toMs) a pick is the spike video with probability `extra` on top of its Zipf share. */
  spike?: { rank: number; fromMs: number; toMs: number; extra: number } | null;
  /** Chance that a person re-watches the video just watched (a page refresh); default 0.08. */
  refreshRate?: number;
  /** Chance that a view beacon is re-sent with the same event_id (a network retry); default 0.03. */
  retryRate?: number;
}

/**
 * An actor yields the time of its next event, then (resumed by the scheduler at that time) the
 * event itself, in non-decreasing `ts`. Building each event only when it is due keeps events from
 * waiting in memory for minutes of event time, which is most of what makes a big stream cheap.
 */
export type Actor = Generator<number | LabelledEvent, void, void>;

const SECOND = 1_000;
const MINUTE = 60_000;
const FARM_ADDRESSES = 5;
const FARM_VIEWS_PER_MINUTE = 70;

interface Who {
  viewer_id: string | null;
  session_id: string;
  ip: string;
  user_agent: string;
  ja3: string | null;
  country: string;
  device: Device;
}

function build(ctx: StreamContext, who: Who, v: VideoMeta, type: string, ts: number, watch: number, source: TrafficSource): ViewEvent {
  return {
    event_id: ctx.nextId(),
    event_type: type,
    video_id: v.video_id,
    channel_id: v.channel_id,
    category: v.category,
    viewer_id: who.viewer_id,
    owner_id: v.owner_id,
    session_id: who.session_id,
    ts,
    watch_ms: watch,
    video_duration_ms: v.video_duration_ms,
    country: who.country,
    device: who.device,
    traffic_source: source,
    ip: who.ip,
    user_agent: who.user_agent,
    ja3: who.ja3,
  };
}

function pickVideo(ctx: StreamContext): VideoMeta {
  const spike = ctx.spike;
  // The spike draws only inside its window, so a stream without one is unchanged.
  if (spike && ctx.clock !== undefined && ctx.clock >= spike.fromMs && ctx.clock < spike.toMs && ctx.rng.chance(spike.extra)) {
    return videoMeta(videoId(spike.rank), ctx.channels);
  }
  return videoMeta(videoId(ctx.zipf.sample(ctx.rng)), ctx.channels);
}

/**
 * How long a person watches. Watch times spread widely, so people almost never stop inside the
 * narrow band just past the view threshold (the watch-pattern signal) more than once in a row.
 */
function humanWatchMs(rng: Rng, duration: number | null): number {
  if (duration === null) return Math.round(Math.min(2 * 3_600_000, 5 * SECOND + rng.exp(6 * MINUTE)));
  if (duration <= MINUTE) {
    const u = rng.float();
    if (u < 0.6) return duration;
    if (u < 0.85) return Math.round(duration * rng.uniform(0.3, 1));
    return Math.round(duration * rng.uniform(0, 0.5));
  }
  const u = rng.float();
  if (u < 0.2) return rng.between(SECOND, 28 * SECOND);
  if (u < 0.45) return Math.round(duration * rng.uniform(0.85, 1));
  return rng.between(30 * SECOND, duration);
}

/** A watch that stops just past the threshold, the way view farms maximise views per hour. */
function minimalWatchMs(rng: Rng, v: VideoMeta, rules: LabelRules): number {
  return Math.ceil(requiredWatchMs(v.video_duration_ms, rules) * (1 + rng.uniform(0.001, 0.04)));
}

/** One person watching one video: heartbeats and polls while watching, then the view beacon (sometimes re-sent). */
function* watchVideo(ctx: StreamContext, who: Who, v: VideoMeta, source: TrafficSource, t: number, labels: Labeller): Generator<number | LabelledEvent, number, void> {
  const rng = ctx.rng;
  const w = humanWatchMs(rng, v.video_duration_ms);
  // Half the players send progress heartbeats (every minute, at most two per view here); a few poll status or transcripts.
  const beats = rng.chance(0.5) ? Math.min(2, Math.floor(w / MINUTE)) : 0;
  const polls = rng.chance(0.08) ? [rng.int(w + 1), rng.int(w + 1)].slice(0, rng.between(1, 2)).sort((a, b) => a - b) : null;
  let beat = 1;
  let poll = 0;
  for (;;) {
    const nextBeat = beat <= beats ? beat * MINUTE : Infinity;
    const nextPoll = polls !== null && poll < polls.length ? polls[poll] : Infinity;
    if (nextBeat === Infinity && nextPoll === Infinity) break;
    const isBeat = nextBeat <= nextPoll;
    const offset = isBeat ? nextBeat : nextPoll;
    if (isBeat) beat++;
    else poll++;
    yield t + offset;
    const ping = labels.label(build(ctx, who, v, isBeat ? 'heartbeat' : rng.chance(0.5) ? 'poll' : 'transcript_poll', t + offset, offset, source));
    yield ping;
    if (rng.chance(0.01)) {
      yield t + offset;
      yield labels.retry(ping);
    }
  }
  yield t + w;
  const view = labels.label(build(ctx, who, v, 'view', t + w, w, source));
  yield view;
  if (rng.chance(ctx.retryRate ?? 0.03)) {
    yield t + w;
    yield labels.retry(view);
  }
  return t + w;
}

/**
 * A person: one or two sessions of a few videos, sometimes refreshing a page or coming back to a
 * video. An `offline` person is on a phone whose beacons the scheduler delivers late.
 */
function* human(ctx: StreamContext, population: Population, t0: number, offline: boolean): Actor {
  const rng = ctx.rng;
  const labels = new Labeller(ctx.rules, population);
  const cgnat = population === 'human_cgnat';
  const device: Device = offline || cgnat ? 'mobile' : DEVICES.sample(rng);
  const signedIn = population === 'human_signed_in' || cgnat || (population !== 'human_anonymous' && rng.chance(0.5));
  const home = rng.int(ctx.households);
  const vpn = rng.int(ctx.vpnExits);
  const nat = rng.pick(ctx.natIps);
  const who: Who = {
    viewer_id: signedIn ? `u${ctx.nextId()}` : null,
    session_id: '',
    ip: '',
    user_agent: humanUserAgent(rng, device),
    ja3: browserJa3(rng),
    country: COUNTRIES.sample(rng),
    device,
  };
  const maxVideos = population === 'human_vpn' ? 3 : 8;
  let t = t0;
  const sessions = signedIn && rng.chance(0.3) ? 2 : 1;
  for (let s = 0; s < sessions; s++) {
    if (s > 0) t += rng.between(5 * MINUTE, 40 * MINUTE);
    who.session_id = `s${ctx.nextId()}`;
    who.ip = population === 'human_nat' ? nat : cgnat ? CGNAT_IP : population === 'human_vpn' ? vpnIp(vpn) : householdIp(home, rng);
    let videos = 1;
    while (videos < maxVideos && rng.chance(0.6)) videos++;
    for (let i = 0; i < videos; i++) {
      let v = (rng.chance(0.1) ? labels.revisit(rng) : null) ?? pickVideo(ctx);
      // Nobody here views one video more than three times: looping is left to the bots.
      if (labels.views(v) >= 3) v = pickVideo(ctx);
      labels.watch(v);
      const source = TRAFFIC_SOURCES.sample(rng);
      if (i === 0 && rng.chance(0.4)) {
        yield t;
        yield labels.label(build(ctx, who, v, 'load', t, 0, source));
      }
      t = yield* watchVideo(ctx, who, v, source, t, labels);
      while (rng.chance(ctx.refreshRate ?? 0.08) && labels.views(v) < 3) {
        t += rng.between(2 * SECOND, MINUTE);
        t = yield* watchVideo(ctx, who, v, 'direct', t, labels);
      }
      t += rng.between(SECOND, 20 * SECOND);
    }
  }
}

/** A channel owner checking their own video a few times. */
function* owner(ctx: StreamContext, t0: number): Actor {
  const rng = ctx.rng;
  const labels = new Labeller(ctx.rules, 'owner');
  const v = pickVideo(ctx);
  const device = DEVICES.sample(rng);
  const who: Who = { viewer_id: v.owner_id, session_id: `s${ctx.nextId()}`, ip: householdIp(rng.int(ctx.households), rng), user_agent: humanUserAgent(rng, device), ja3: browserJa3(rng), country: COUNTRIES.sample(rng), device };
  labels.watch(v);
  let t = t0;
  for (let n = rng.between(1, 4); n > 0; n--) {
    t = yield* watchVideo(ctx, who, v, 'channel', t, labels);
    t += rng.between(MINUTE, 10 * MINUTE);
  }
}

/** Shared shape of the disguised and declared bots: a run of views `gap()` apart, one `view` beacon each. */
function* botRun(ctx: StreamContext, population: Population, t0: number, views: number, gap: () => number, view: () => { who: Who; v: VideoMeta; watch: number }): Actor {
  const labels = new Labeller(ctx.rules, population);
  let t = t0;
  for (let i = 0; i < views; i++) {
    t += gap();
    yield t;
    const step = view();
    yield labels.label(build(ctx, step.who, step.v, 'view', t, step.watch, TRAFFIC_SOURCES.sample(ctx.rng)));
  }
}

/** A view of a random video with a person's watch time. */
function humanLike(ctx: StreamContext, who: Who): { who: Who; v: VideoMeta; watch: number } {
  const v = pickVideo(ctx);
  return { who, v, watch: humanWatchMs(ctx.rng, v.video_duration_ms) };
}

function disguised(ctx: StreamContext, ip: string, viewer_id: string | null = null): Who {
  const device: Device = ctx.rng.chance(0.7) ? 'desktop' : 'mobile';
  return { viewer_id, session_id: `s${ctx.nextId()}`, ip, user_agent: humanUserAgent(ctx.rng, device), ja3: browserJa3(ctx.rng), country: COUNTRIES.sample(ctx.rng), device };
}

/**
 * Creates the actor of `population` arriving at `t0`; `ordinal` numbers the actors of a population
 * (bots share IPs by it). `offline` (people only) makes a phone user whose beacons arrive late.
 */
export function createActor(ctx: StreamContext, population: Population, t0: number, ordinal: number, offline = false): Actor {
  const rng = ctx.rng;
  const r = ctx.rules;
  switch (population) {
    case 'human_signed_in':
    case 'human_anonymous':
    case 'human_nat':
    case 'human_vpn':
    case 'human_cgnat':
      // human_cgnat: signed-in phone users, thousands of them behind one carrier-NAT address.
      return human(ctx, population, t0, offline);
    case 'owner':
      return owner(ctx, t0);
    case 'bot_declared': {
      // Crawlers and scripts that say what they are; many fetch without "watching" (too_short).
      const who = { ...disguised(ctx, rng.chance(0.5) ? botDatacenterIp(ordinal) : botProxyIp(ordinal)), user_agent: rng.pick(DECLARED_BOT_UAS), ja3: null };
      const gap = () => rng.between(2 * SECOND, 10 * SECOND);
      return botRun(ctx, population, t0, rng.between(10, 60), gap, () => ({ who, v: pickVideo(ctx), watch: rng.chance(0.3) ? rng.between(0, 5 * SECOND) : rng.between(30 * SECOND, 3 * MINUTE) }));
    }
    case 'bot_ja3': {
      // A browser user agent over an HTTP library's TLS stack, at a human pace.
      const who = { ...disguised(ctx, botProxyIp(1_000_000 + ordinal)), ja3: rng.pick(DENIED_JA3) };
      return botRun(ctx, population, t0, rng.between(10, 40), () => rng.between(20 * SECOND, 90 * SECOND), () => humanLike(ctx, who));
    }
    case 'bot_velocity': {
      // One residential proxy exit hammering views, a fresh anonymous session per view.
      const ip = botProxyIp(2_000_000 + ordinal);
      const perMinute = rng.between(200, 400);
      return botRun(ctx, population, t0, perMinute * rng.between(4, 6), () => Math.round(rng.exp(MINUTE / perMinute)), () => humanLike(ctx, disguised(ctx, ip)));
    }
    case 'bot_pattern': {
      // Signed-in farm accounts, ten per proxy exit, each view stopping just past the threshold.
      const who = disguised(ctx, botProxyIp(3_000_000 + Math.floor(ordinal / 10)), `b${ctx.nextId()}`);
      return botRun(ctx, population, t0, rng.between(40, 80), () => rng.between(40 * SECOND, 90 * SECOND), () => {
        const v = pickVideo(ctx);
        return { who, v, watch: minimalWatchMs(rng, v, r) };
      });
    }
    case 'bot_datacenter': {
      // A headless browser on a rented server running through many videos quickly, mostly under the
      // velocity limit: caught by two soft signals together (datacenter_ip + replay_rate).
      const who = disguised(ctx, botDatacenterIp(4_000_000 + ordinal));
      return botRun(ctx, population, t0, rng.between(300, 900), () => rng.between(2 * SECOND, 6 * SECOND), () => humanLike(ctx, who));
    }
    case 'bot_farm': {
      // One address of a view farm of five residential-looking addresses (by ordinal): ~70 views a
      // minute for ten minutes, all on the farm's three videos, browser user agents, no viewer id and a
      // fresh session per view, each watched past the threshold at a person's spread — nothing per view
      // or per session gives it away, only the address's rate.
      const farm = Math.floor(ordinal / FARM_ADDRESSES);
      const ip = botProxyIp(6_000_000 + ordinal);
      // Videos off the top of the catalogue, where the farm's views stand out.
      const from = Math.min(1_000, Math.floor(ctx.zipf.size / 10));
      const videos = [0, 1, 2].map((k) => videoMeta(videoId(from + (mix32(farm * 3 + k + 0x2f6b1d3) % (ctx.zipf.size - from))), ctx.channels));
      return botRun(ctx, population, t0, FARM_VIEWS_PER_MINUTE * 10, () => Math.round(rng.exp(MINUTE / FARM_VIEWS_PER_MINUTE)), () => {
        const v = rng.pick(videos);
        return { who: disguised(ctx, ip), v, watch: Math.ceil(requiredWatchMs(v.video_duration_ms, r) * rng.uniform(1.06, 2.5)) };
      });
    }
    case 'bot_replay': {
      // Sessions re-watching one promoted video over and over at the minimum watch time, three per proxy exit.
      const who = disguised(ctx, botProxyIp(5_000_000 + Math.floor(ordinal / 3)));
      const v = videoMeta(videoId(rng.int(50)), ctx.channels);
      return botRun(ctx, population, t0, rng.between(40, 80), () => rng.between(20 * SECOND, 60 * SECOND), () => ({ who, v, watch: minimalWatchMs(rng, v, r) }));
    }
  }
}
