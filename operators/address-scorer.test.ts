import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { AddressMessage, AddressRecordWriter, VerdictMessage } from '../schemas/address-messages.ts';
import { AddressPartitions, MINUTE, sourceMessages, STEP, T0, type SourceView } from './address-fixtures.ts';
import { AddressScorer } from './address-scorer.ts';
import { rulesWith } from './bot-scorer-fixtures.ts';
import { SIGNAL_BIT } from './bot-scorer.ts';
import { COVER_STEPS } from '../schemas/verdict-step.ts';

const SECOND = 1_000;
const FARM = 1;
const HOME = 2;

/** `perMinute` views of one address for `minutes` minutes from `from`, over `videos` videos, dealt round-robin to `sources` sources. */
function viewsOf(address: number, from: number, minutes: number, perMinute: number, videos: number): SourceView[] {
  const n = Math.round(minutes * perMinute);
  return Array.from({ length: n }, (_, i) => ({ address, ts: from + Math.floor((i * minutes * MINUTE) / n), video: i % videos }));
}

function deal(views: SourceView[], sources: number): SourceView[][] {
  const out: SourceView[][] = Array.from({ length: sources }, () => []);
  [...views].sort((a, b) => a.ts - b.ts).forEach((v, i) => out[i % sources].push(v));
  return out;
}

/** Every source's flushes, delivered source by source in turn (flush k of each source before flush k + 1 of any). */
function runInTurns(parts: AddressPartitions, perSource: SourceView[][], options: Parameters<typeof sourceMessages>[3] = {}): void {
  const flushes = perSource.map((views, sp) => sourceMessages(sp, views, parts.partitions, options));
  for (let k = 0; k < Math.max(...flushes.map((f) => f.length)); k++) for (const f of flushes) if (k < f.length) parts.deliver(f[k]);
}

describe('address stage', () => {
  it('flags a farm address from its whole-stream rate, its first views before the rate shows too, and leaves a household alone', () => {
    // The farm starts 40 s into minute 0 (~23 views in step 1, 0:30-1:00), then 70 a minute (35 a step) for ten minutes; the home views two a minute.
    const farm = viewsOf(FARM, T0 + 40 * SECOND, 10, 70, 3);
    const home = viewsOf(HOME, T0, 12, 2, 12);
    const parts = new AddressPartitions(2, 4);
    runInTurns(parts, deal([...farm, ...home], 4), { idleAtEnd: true });
    // The limit is 60 views in two minutes (four steps): steps 1 (23) and 2 (23 + 35) are under it, step 3 flags 1 to 3 together.
    expect([0, 1, 2].map((s) => parts.flagged(FARM, s))).toEqual([false, false, false]);
    for (let s = 3; s <= 22; s++) expect(parts.flagged(FARM, s), `step ${s}`).toBe(true);
    expect(parts.flagged(FARM, 23)).toBe(false); // steps 20 to 23: 35 + 12 views
    for (const v of farm) expect(parts.covers(FARM, v.ts), `the farm's view at ${v.ts - T0} ms`).toBe(true);
    for (const v of home) expect(parts.covers(HOME, v.ts)).toBe(false);
    const signals = [...parts.flags].map((f) => Number(f.split(':')[1]));
    expect(signals.every((s) => (s & SIGNAL_BIT.ip_velocity) !== 0)).toBe(true);
  });

  it('judges a step only once every source has marked past it, and calls it final once the steps that cover it are judged', () => {
    const farm = deal(viewsOf(FARM, T0, 3, 90, 2), 2);
    const parts = new AddressPartitions(1, 2);
    const [a, b] = farm.map((views, sp) => sourceMessages(sp, views, 1, { flushEvery: 1_000 }));
    for (const f of a) parts.deliver(f);
    expect(parts.flags.size).toBe(0);
    expect(parts.watermarks[0]).toBe(Number.NEGATIVE_INFINITY);
    for (const f of b) parts.deliver(f);
    // The watermark is ~5 s before the last view (T0 + 3 min): steps 0 to 4 are judged (step 0's 45 views are under
    // the limit, step 1 is over it and covers step 0), and final through step 2, which steps 3 and 4 cover.
    expect([0, 1, 2, 3, 4, 5].map((s) => parts.flagged(FARM, s))).toEqual([false, true, true, true, true, false]);
    expect(parts.watermarks[0]).toBe(T0 + 3 * STEP);
  });

  it('decides every view once the sources have marked 90 s past the start of its step (the two steps after it judged), not before 60 s', () => {
    const scorer = new AddressScorer({ sourcePartitions: 1, rules: () => rulesWith() });
    const out = new AddressRecordWriter(1);
    const message = new AddressMessage();
    let [oldest, newest] = [Number.POSITIVE_INFINITY, 0];
    // a view every 0.7 s for ten minutes, each flush marking 5 s behind it, as a source does
    for (let offset = 0, t = T0; t < T0 + 10 * MINUTE; offset++, t += 700) {
      out.add(offset, t, 7, 8, 0, 1, 0);
      const watermark = t - 5_000;
      scorer.add(message.load(out.take(0, watermark, false)[0].value));
      if (watermark < T0 + 2 * MINUTE) continue;
      // every view before the verdict watermark is decided, every view from it on is not: its age is the wait
      const undecidedFor = watermark - scorer.verdictWatermark;
      [oldest, newest] = [Math.min(oldest, undecidedFor), Math.max(newest, undecidedFor)];
    }
    expect(newest).toBeLessThan((COVER_STEPS + 1) * STEP);
    expect(newest).toBeGreaterThan((COVER_STEPS + 1) * STEP - 1_000);
    expect(oldest).toBeGreaterThanOrEqual(COVER_STEPS * STEP);
  });

  it('judges the steps after an address’s last views again under rules reloaded since (nothing it settled under the old ones is kept)', () => {
    let rules = rulesWith();
    const scorer = new AddressScorer({ sourcePartitions: 1, rules: () => rules });
    const out = new AddressRecordWriter(1);
    const message = new AddressMessage();
    out.add(0, T0 + 1_000, 7, 8, 0, 1, 0);
    out.add(1, T0 + 2_000, 7, 8, 0, 2, 0);
    scorer.add(message.load(out.take(0, T0 + STEP, false)[0].value)); // step 0 judged: two views, nothing fires
    expect(scorer.pendingFlags).toBe(0);
    rules = rulesWith({ ipVelocity: { maxViews: 1 } });
    scorer.add(message.load(out.take(0, T0 + 2 * STEP, false)[0].value)); // step 1: the same two views in its window are over the new limit
    const v = new VerdictMessage().load(scorer.takeVerdicts(0));
    expect([v.count, v.start(0), v.signals(0) & SIGNAL_BIT.ip_velocity]).toEqual([1, T0 + STEP, SIGNAL_BIT.ip_velocity]);
  });

  it('counts a replayed record once, and late records and records for judged minutes not at all', () => {
    const scorer = new AddressScorer({ sourcePartitions: 1, rules: () => rulesWith() });
    const out = new AddressRecordWriter(1);
    const message = new AddressMessage();
    const send = (offset: number, ts: number, flags: number, watermark: number) => {
      out.add(offset, ts, 7, 8, 0, 1, flags);
      scorer.add(message.load(out.take(0, watermark, false)[0].value));
    };
    send(0, T0, 0, T0);
    send(0, T0, 0, T0); // the same record again: a replay
    send(1, T0 + 1, 2, T0); // marked late by its source
    send(2, T0 + 3 * MINUTE, 0, T0 + 3 * MINUTE); // the watermark passes steps 0 to 5
    send(3, T0 + 30 * SECOND, 0, T0 + 3 * MINUTE); // for a judged step
    expect(scorer.stats).toEqual({ duplicates: 1, late: 1, tooLate: 1 });
    expect(scorer.table.views(scorer.table.find(7, 8, T0 / STEP))).toBe(1);
    expect(scorer.verdictWatermark).toBe(T0 + 4 * STEP); // steps 4 and 5 cover it
  });

  it('stops waiting for an idle source, and with every source idle judges up to the furthest idle mark', () => {
    const parts = new AddressPartitions(1, 3);
    const busy = sourceMessages(0, viewsOf(FARM, T0, 4, 80, 2), 1, { idleAtEnd: true });
    const quiet = sourceMessages(1, viewsOf(HOME, T0, 1, 2, 2), 1, { idleAtEnd: true });
    const silent = sourceMessages(2, [], 1, { idleAtEnd: true });
    for (const f of [...quiet, ...silent, ...busy.slice(0, -1)]) parts.deliver(f);
    // Sources 1 and 2 are idle: source 0 alone sets the watermark (~5 s before T0 + 4 min): steps 0 to 6 judged.
    expect(parts.watermarks[0]).toBe(T0 + 5 * STEP);
    expect(parts.flagged(FARM, 6)).toBe(true);
    expect(parts.flagged(FARM, 7)).toBe(false);
    parts.deliver(busy[busy.length - 1]);
    // All idle: source 0's idle mark is the end of its last minute (3) plus the steps that cover it.
    expect(parts.watermarks[0]).toBe(T0 + 4 * MINUTE);
    expect(parts.flagged(FARM, 9)).toBe(true);
  });

  it('restores from a snapshot and changes to the same verdicts as an uninterrupted run', () => {
    const views = deal([...viewsOf(FARM, T0 + 20 * SECOND, 8, 75, 3), ...viewsOf(HOME, T0, 9, 3, 20), ...viewsOf(9, T0, 9, 0.5, 1)], 3);
    const flushes = views.map((v, sp) => sourceMessages(sp, v, 1, { flushEvery: 10 }));
    const order = flushes.flatMap((f, sp) => f.map((m, k) => ({ m, k, sp }))).sort((x, y) => x.k - y.k || x.sp - y.sp).map((x) => x.m);
    const straight = new AddressPartitions(1, 3);
    for (const m of order) straight.deliver(m);

    const rules = rulesWith();
    const chain: Buffer[] = [];
    let checkpointAt = -1;
    let run = new AddressPartitions(1, 3, rules);
    const flags = new Set<string>();
    let crashes = 0;
    for (let i = 0; i < order.length; i++) {
      run.deliver(order[i]);
      if (i % 7 === 6) {
        const w = new BinaryWriter();
        run.scorers[0].write(w, chain.length > 0);
        chain.push(w.copy());
        checkpointAt = i;
      }
      if (i % 5 === 4) {
        // a crash: a new owner restores the chain and reads again from after the checkpoint
        for (const f of run.flags) flags.add(f);
        run = new AddressPartitions(1, 3, rules);
        chain.forEach((link, k) => run.scorers[0].read(new BinaryReader(link), k === 0));
        for (let j = checkpointAt + 1; j <= i; j++) run.deliver(order[j]);
        crashes++;
      }
    }
    for (const f of run.flags) flags.add(f);
    expect(crashes).toBeGreaterThan(3);
    expect(flags).toEqual(straight.flags);
    expect(run.watermarks).toEqual(straight.watermarks);
    expect(straight.flags.size).toBeGreaterThan(5);
  });

  it('sends the same verdicts whatever the interleaving of the source partitions, replays included', () => {
    // A farm, a home, and two addresses just over and just under the velocity limit (60 in two minutes).
    const views = [...viewsOf(FARM, T0 + 13 * SECOND, 6, 70, 3), ...viewsOf(HOME, T0, 8, 4, 30), ...viewsOf(5, T0 + MINUTE, 5, 31, 40), ...viewsOf(7, T0, 7, 29.5, 9), ...viewsOf(6, T0, 8, 0.7, 2)];
    const perSource = deal(views, 4);
    const flushes = perSource.map((v, sp) => sourceMessages(sp, v, 2, { flushEvery: 17, idleAtEnd: true }));
    const reference = new AddressPartitions(2, 4);
    runInTurns(reference, perSource, { flushEvery: 17, idleAtEnd: true });
    expect(reference.flags.size).toBeGreaterThan(5);
    fc.assert(
      fc.property(fc.array(fc.nat(3), { minLength: 200, maxLength: 400 }), fc.array(fc.tuple(fc.nat(3), fc.nat(40)), { maxLength: 5 }), (picks, replays) => {
        // Each source's flushes stay in its order; which source goes next is random; some sources replay a stretch.
        const queues = flushes.map((f) => [...f]);
        for (const [sp, from] of replays) queues[sp].splice(Math.min(from + 10, queues[sp].length), 0, ...flushes[sp].slice(from, from + 10));
        const parts = new AddressPartitions(2, 4);
        let p = 0;
        while (queues.some((q) => q.length > 0)) {
          const sp = (picks[p++ % picks.length] + p) % 4;
          const next = queues[sp].shift() ?? queues.find((q) => q.length > 0)!.shift()!;
          parts.deliver(next);
        }
        expect(parts.flags).toEqual(reference.flags);
        expect(parts.watermarks).toEqual(reference.watermarks);
      }),
      { numRuns: 60 },
    );
  });
});
