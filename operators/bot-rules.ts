import { isbot } from 'isbot';
import { ViewtallyError } from '../schemas/errors.ts';
import { CidrError, CidrSet } from './bot-cidr.ts';

/** The signals a bot verdict can name, in the order verdicts list them. */
export const BOT_SIGNALS = ['ua_bot', 'ja3', 'datacenter_ip', 'ip_velocity', 'watch_pattern', 'replay_rate'] as const;
export type BotSignal = (typeof BOT_SIGNALS)[number];

/** The bot rules file as written (`pipeline/bot-rules.default.json`); every count limit is for the whole topic. */
export interface BotRulesConfig {
  /** Free text naming this revision of the rules. */
  version: string;
  description: string;
  /** An event whose fired signals' weights sum to at least this is a bot. */
  threshold: number;
  weights: Record<BotSignal, number>;
  /** More than `maxViews` scored views from one IP (IPv6: one /64) within `windowMs` of event time. */
  ipVelocity: { windowMs: number; maxViews: number };
  /**
   * At least `minViews` views of one viewer key (or one IP) within `windowMs`, of which at least
   * `minFraction` stopped just past the view threshold: in [t, t × (1 + bandRatio)).
   */
  watchPattern: { windowMs: number; minViews: number; minFraction: number; bandRatio: number };
  /**
   * A viewer key that viewed the same video more than `maxSameVideoViews` times within `windowMs`,
   * or more than `maxDistinctVideos` different videos within `distinctWindowMs`.
   */
  replay: { windowMs: number; maxSameVideoViews: number; distinctWindowMs: number; maxDistinctVideos: number };
  /** Hosting and cloud ranges: views from there add the `datacenter_ip` weight. */
  datacenterCidrs: string[];
  /** Carrier-grade NAT ranges, where one IP carries many people: exempt from per-IP signals. */
  carrierNatCidrs: string[];
  /** JA3 TLS fingerprints (hex MD5) of HTTP libraries and automation stacks. */
  ja3Deny: string[];
  /** Extra user-agent patterns (case-insensitive regular expressions) that declare a bot. */
  uaDenyExtra: string[];
  /** User-agent patterns that are never a declared bot, even when the maintained list matches. */
  uaAllow: string[];
}

/** Parsed, validated rules with their lists compiled for the per-event path. */
export interface BotRules {
  readonly config: Readonly<BotRulesConfig>;
  readonly datacenter: CidrSet;
  readonly carrierNat: CidrSet;
  readonly ja3Deny: ReadonlySet<string>;
  /** Whether `userAgent` declares itself a bot: the maintained `isbot` list plus `uaDenyExtra`, minus `uaAllow`. */
  declaresBot(userAgent: string): boolean;
}

/** The bot rules are invalid; `field` names the offending setting (e.g. `replay.windowMs`, `datacenterCidrs[3]`). */
export class BotRulesError extends ViewtallyError {
  readonly field: string;
  constructor(field: string, message: string, cause?: unknown) {
    super(field === '' ? message : `bot rules: ${field}: ${message}`, { retriable: false, cause });
    this.field = field;
  }
}

const UA_CACHE_LIMIT = 10_000;

/** Validates a rules document (parsed JSON or its text) and compiles it; unknown keys are errors. */
export function parseBotRules(json: unknown): BotRules {
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (err) {
      throw new BotRulesError('', `bot rules: not valid JSON: ${(err as Error).message}`, err);
    }
  }
  const top = record(json, '', ['threshold', 'weights', 'ipVelocity', 'watchPattern', 'replay', 'datacenterCidrs', 'carrierNatCidrs', 'ja3Deny', 'uaDenyExtra', 'uaAllow'], ['version', 'description']);
  const w = record(top.weights, 'weights', [...BOT_SIGNALS]);
  const weights = Object.fromEntries(BOT_SIGNALS.map((s) => [s, num(w[s], `weights.${s}`, { min: 0 })])) as Record<BotSignal, number>;
  const v = record(top.ipVelocity, 'ipVelocity', ['windowMs', 'maxViews']);
  const p = record(top.watchPattern, 'watchPattern', ['windowMs', 'minViews', 'minFraction', 'bandRatio']);
  const r = record(top.replay, 'replay', ['windowMs', 'maxSameVideoViews', 'distinctWindowMs', 'maxDistinctVideos']);
  const config: BotRulesConfig = {
    version: str(top.version ?? '', 'version'),
    description: str(top.description ?? '', 'description'),
    threshold: num(top.threshold, 'threshold', { above: 0 }),
    weights,
    ipVelocity: { windowMs: int(v.windowMs, 'ipVelocity.windowMs', 1), maxViews: int(v.maxViews, 'ipVelocity.maxViews', 1) },
    watchPattern: {
      windowMs: int(p.windowMs, 'watchPattern.windowMs', 1),
      minViews: int(p.minViews, 'watchPattern.minViews', 1),
      minFraction: num(p.minFraction, 'watchPattern.minFraction', { above: 0, max: 1 }),
      bandRatio: num(p.bandRatio, 'watchPattern.bandRatio', { above: 0, max: 1 }),
    },
    replay: {
      windowMs: int(r.windowMs, 'replay.windowMs', 1),
      maxSameVideoViews: int(r.maxSameVideoViews, 'replay.maxSameVideoViews', 1),
      distinctWindowMs: int(r.distinctWindowMs, 'replay.distinctWindowMs', 1),
      maxDistinctVideos: int(r.maxDistinctVideos, 'replay.maxDistinctVideos', 1),
    },
    datacenterCidrs: strList(top.datacenterCidrs, 'datacenterCidrs'),
    carrierNatCidrs: strList(top.carrierNatCidrs, 'carrierNatCidrs'),
    ja3Deny: strList(top.ja3Deny, 'ja3Deny').map((h, i) => {
      if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new BotRulesError(`ja3Deny[${i}]`, `"${h}" is not a JA3 hash (32 hex digits)`);
      return h.toLowerCase();
    }),
    uaDenyExtra: strList(top.uaDenyExtra, 'uaDenyExtra'),
    uaAllow: strList(top.uaAllow, 'uaAllow'),
  };
  return compile(config);
}

function compile(config: BotRulesConfig): BotRules {
  const datacenter = cidrs(config.datacenterCidrs, 'datacenterCidrs');
  const carrierNat = cidrs(config.carrierNatCidrs, 'carrierNatCidrs');
  const deny = patterns(config.uaDenyExtra, 'uaDenyExtra');
  const allow = patterns(config.uaAllow, 'uaAllow');
  // isbot runs a large regular expression (~2 µs); user agents repeat heavily, so remember answers.
  const cache = new Map<string, boolean>();
  const declaresBot = (ua: string): boolean => {
    let bot = cache.get(ua);
    if (bot === undefined) {
      bot = !(allow !== null && allow.test(ua)) && (isbot(ua) || (deny !== null && deny.test(ua)));
      if (cache.size >= UA_CACHE_LIMIT) cache.clear();
      cache.set(ua, bot);
    }
    return bot;
  };
  return { config, datacenter, carrierNat, ja3Deny: new Set(config.ja3Deny), declaresBot };
}

function cidrs(list: string[], field: string): CidrSet {
  try {
    return CidrSet.parse(list);
  } catch (err) {
    if (err instanceof CidrError) throw new BotRulesError(`${field}[${err.index}]`, err.message, err);
    throw err;
  }
}

function patterns(list: string[], field: string): RegExp | null {
  list.forEach((source, i) => {
    try {
      new RegExp(source, 'i');
    } catch (err) {
      throw new BotRulesError(`${field}[${i}]`, `not a valid regular expression: ${(err as Error).message}`, err);
    }
  });
  return list.length === 0 ? null : new RegExp(list.map((s) => `(?:${s})`).join('|'), 'i');
}

function record(v: unknown, field: string, required: string[], optional: string[] = []): Record<string, unknown> {
  const where = field === '' ? '(top level)' : field;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BotRulesError(where, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k)) throw new BotRulesError(join(field, k), `unknown setting (expected one of: ${[...required, ...optional].join(', ')})`);
  }
  for (const k of required) if (o[k] === undefined) throw new BotRulesError(join(field, k), 'missing');
  return o;
}

function join(field: string, key: string): string {
  return field === '' ? key : `${field}.${key}`;
}

function num(v: unknown, field: string, bounds: { min?: number; above?: number; max?: number }): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BotRulesError(field, `expected a number, got ${JSON.stringify(v)}`);
  if (bounds.min !== undefined && v < bounds.min) throw new BotRulesError(field, `must be at least ${bounds.min}, got ${v}`);
  if (bounds.above !== undefined && v <= bounds.above) throw new BotRulesError(field, `must be greater than ${bounds.above}, got ${v}`);
  if (bounds.max !== undefined && v > bounds.max) throw new BotRulesError(field, `must be at most ${bounds.max}, got ${v}`);
  return v;
}

function int(v: unknown, field: string, min: number): number {
  const n = num(v, field, { min });
  if (!Number.isSafeInteger(n)) throw new BotRulesError(field, `expected an integer, got ${n}`);
  return n;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new BotRulesError(field, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function strList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new BotRulesError(field, 'expected an array of strings');
  return v.map((s, i) => str(s, `${field}[${i}]`));
}
