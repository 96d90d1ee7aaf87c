import type { AddressSteps } from './address-steps.ts';
import { groupOf, RECENT_GROUP_STEPS, RECENT_GROUPS, VIDEO_SKETCH } from './address-steps.ts';
import type { BotRules } from './bot-rules.ts';
import { SIGNAL_BIT } from './bot-scorer.ts';
import { VERDICT_STEP_MS } from '../schemas/verdict-step.ts';

/** The verdict rule's windows in whole verdict steps (a rule's window rounded up), derived once per rules object. */
export interface AddressWindows {
  rules: BotRules;
  velocity: number;
  pattern: number;
  distinct: number;
  /** The longest of them: how many steps before a judged step the table must keep. */
  longest: number;
}

/** The windows of a rules object. */
export function addressWindows(rules: BotRules): AddressWindows {
  const c = rules.config;
  const steps = (ms: number) => Math.max(1, Math.ceil(ms / VERDICT_STEP_MS));
  const velocity = steps(c.ipVelocity.windowMs);
  const pattern = steps(c.watchPattern.windowMs);
  const distinct = steps(c.replay.distinctWindowMs);
  return { rules, velocity, pattern, distinct, longest: Math.max(velocity, pattern, distinct) };
}

/** What the rule found for one address and step: the signals that fired and their weights' sum. */
export interface AddressJudgement {
  signals: number;
  score: number;
  /**
   * Whether no window that holds only some of these windows' views could flag the address either:
   * unflagged, and the watch pattern out of reach (fewer views than `minViews`, or fewer banded ones
   * than `minFraction` of `minViews`). Every other signal is a sum, a set or an any-of, which a subset
   * cannot raise, and weights are at least 0.
   */
  quietOnLess: boolean;
}

const sketch = new Uint32Array(VIDEO_SKETCH);
/** The window sums of the judgement under way (module scratch: judging allocates nothing). */
const sums = { velocity: 0, views: 0, banded: 0, videos: 0, datacenter: false };

/**
 * Judges one address at step index `step` from the whole-stream aggregates of the windows that
 * end with that step (no share of a partition: the address stage sees all of an address's views).
 * Signals: `ip_velocity` (more than `ipVelocity.maxViews` views in its window), `watch_pattern`
 * (at least `minViews` views in its window, `minFraction` of them in the band), `replay_rate` (more
 * than `maxDistinctVideos` distinct videos in `distinctWindowMs`; exact while that limit is below
 * VIDEO_SKETCH) and `datacenter_ip`. Sums and sets only, so the judgement does not depend on the
 * order the views came in. Returns whether the weights reach the threshold.
 */
export function judgeAddress(table: AddressSteps, addressHi: number, addressLo: number, step: number, w: AddressWindows, out: AddressJudgement): boolean {
  const c = w.rules.config;
  sums.velocity = sums.views = sums.banded = sums.videos = 0;
  sums.datacenter = false;
  const first = step - w.longest + 1;
  const group = groupOf(step);
  // steps of groups older than the address's bitmap reaches (a window longer than it) are looked up one by one
  const known = (group - RECENT_GROUPS + 1) * RECENT_GROUP_STEPS;
  for (let s = first; s < known && s <= step; s++) addStep(table, addressHi, addressLo, step, s, w);
  // the others only in the groups whose bit is set: an address has keys in a few steps of a window's many
  const span = group - groupOf(first);
  let bits = table.recentGroups(addressHi, addressLo, group);
  if (span < RECENT_GROUPS - 1) bits &= 0xffffffff >>> (RECENT_GROUPS - 1 - span);
  while (bits !== 0) {
    const g = 31 - Math.clz32(bits);
    bits &= ~(1 << g);
    const from = (group - g) * RECENT_GROUP_STEPS;
    for (let s = Math.max(from, first); s < from + RECENT_GROUP_STEPS && s <= step; s++) addStep(table, addressHi, addressLo, step, s, w);
  }
  const { velocity, views, banded, videos, datacenter } = sums;
  let signals = 0;
  let total = 0;
  const weights = c.weights;
  if (datacenter) (signals |= SIGNAL_BIT.datacenter_ip), (total += weights.datacenter_ip);
  if (velocity > c.ipVelocity.maxViews) (signals |= SIGNAL_BIT.ip_velocity), (total += weights.ip_velocity);
  if (views >= c.watchPattern.minViews && banded >= c.watchPattern.minFraction * views) (signals |= SIGNAL_BIT.watch_pattern), (total += weights.watch_pattern);
  if (c.replay.maxDistinctVideos < VIDEO_SKETCH && videos > c.replay.maxDistinctVideos) (signals |= SIGNAL_BIT.replay_rate), (total += weights.replay_rate);
  out.signals = signals;
  out.score = Math.round(total * 1e6) / 1e6;
  const flagged = out.score >= c.threshold;
  out.quietOnLess = !flagged && (views < c.watchPattern.minViews || banded < c.watchPattern.minFraction * c.watchPattern.minViews);
  return flagged;
}

/** Adds step `s`'s aggregates of the address (if it has a key there) to the sums of the windows ending with `step` that reach it. */
function addStep(table: AddressSteps, addressHi: number, addressLo: number, step: number, s: number, w: AddressWindows): void {
  const slot = table.find(addressHi, addressLo, s);
  if (slot < 0) return;
  const k = step - s;
  const n = table.views(slot);
  if (k < w.velocity) sums.velocity += n;
  if (k < w.pattern) {
    sums.views += n;
    sums.banded += table.banded(slot);
  }
  if (k < w.distinct) sums.videos = table.mergeVideos(slot, sketch, sums.videos);
  if (table.datacenter(slot)) sums.datacenter = true;
}
