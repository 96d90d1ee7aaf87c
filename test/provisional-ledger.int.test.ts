import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCounts } from '../operators/live-counts.ts';
import { ProvisionalLedger } from '../operators/provisional-ledger.ts';
import { testEvent, testRecord } from '../operators/test-records.ts';
import type { ViewRecord } from '../operators/view-record.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { VerdictMessage, VerdictWriter } from '../schemas/address-messages.ts';
import { AddressVerdicts } from '../operators/address-verdicts.ts';
import { VERDICT_STEP_MS } from '../schemas/verdict-step.ts';
import { FencedError } from '../sinks/sink-errors.ts';
import { RedisSink, type ProvisionalWrite } from '../sinks/redis-sink.ts';
import { counterLayout, liveViews, progressKey, recordShards } from '../sinks/live-counters.ts';
import type { RedisClient } from '../sinks/redis-client.ts';
import { redis, uniqueName } from './harness.ts';

const STEP = VERDICT_STEP_MS;
const T0 = Date.UTC(2026, 0, 1, 12);
const S = T0 / STEP;
const FARM: [number, number] = [11, 22];
const HOME: [number, number] = [33, 44];

/** A provisionally counted view of `video` from `address` in verdict step S + `step`. */
function view(video: string, address: [number, number], step: number, n: number): ViewRecord {
  const r = testRecord(testEvent({ event_id: `${video}-${n}`, video_id: video, ts: T0 + step * STEP + n, viewer_id: `viewer-${n}` }), n);
  r.outcome = 'counted';
  [r.addressHi, r.addressLo] = address;
  return r;
}

/** The live increments and ledger of some provisional views, as a live flush writes them. */
function flush(views: ViewRecord[]): { live: Buffer; ledger: Buffer } {
  const live = new LiveCounts();
  const ledger = new ProvisionalLedger();
  for (const r of views) {
    live.add(r);
    ledger.add(r);
  }
  const [a, b] = [new BinaryWriter(), new BinaryWriter()];
  live.write(a);
  ledger.write(b);
  return { live: a.copy(), ledger: b.copy() };
}

/** The corrections the counting stage writes for flags (verdict offset, flagged step S + `step`, address) it reads. */
function corrections(flags: Array<[number, number, [number, number]]>): Buffer {
  const verdicts = new AddressVerdicts(1);
  const message = new VerdictMessage();
  for (const [offset, step, [hi, lo]] of flags) {
    const w = new VerdictWriter();
    w.add(hi, lo, T0 + step * STEP, 1, 1);
    verdicts.apply(message.load(w.take(0, Number.NEGATIVE_INFINITY)), offset);
  }
  return verdicts.takeCorrections().bytes;
}

// The provisional ledger in the live counters' script, on a real Redis: provisional views go in
// with their increments, a flag takes its address's views of its verdict step and of the two
// before back exactly once (replays of the flush or of the verdicts change nothing), and steps
// whose verdicts are all in are dropped.
describe('provisional ledger and corrections (commit.lua)', () => {
  const name = uniqueName('ledger');
  const key = progressKey(name, name, 0);
  const a = `${name}-a`;
  const b = `${name}-b`;
  let rd: RedisClient;
  let sink: RedisSink;
  let epoch: number;
  // through the layout: one counter on a single server, the partition's own counter on a cluster
  const count = async (video: string) => (await liveViews(rd, { group: name, topic: name }, [video]))[0];
  const none = (verdictsTo: number, dropBelow = -1, flags: Array<[number, number, [number, number]]> = []): ProvisionalWrite => ({ ledger: Buffer.alloc(0), corrections: corrections(flags), verdictsTo, dropBelow });

  beforeAll(async () => {
    rd = redis();
    sink = new RedisSink(rd);
    await recordShards(rd, { group: name, topic: name }, 1);
    ({ epoch } = await sink.claim(key, `${key}:lock`));
  });

  afterAll(() => rd?.disconnect());

  it('adds provisional views with their increments, once', async () => {
    // the cluster project runs this file again on a Redis Cluster: the ledger's keys share the progress key's slot
    expect(counterLayout(rd)).toBe(process.env.VT_CLUSTER === '1' ? 'sharded' : 'single');
    const views = [view(a, FARM, 0, 1), view(a, FARM, 0, 2), view(b, FARM, 0, 3), view(a, HOME, 0, 4), view(b, FARM, 2, 5), view(b, FARM, 3, 6)];
    const { live, ledger } = flush(views);
    expect(await sink.commit(key, epoch, 10, live, undefined, { ledger, corrections: Buffer.alloc(0), verdictsTo: 0, dropBelow: -1 })).toEqual({ applied: true, takenBack: 0 });
    // the same flush again (a replay): refused by its position, ledger included
    expect(await sink.commit(key, epoch, 10, live, undefined, { ledger, corrections: Buffer.alloc(0), verdictsTo: 0, dropBelow: -1 })).toEqual({ applied: false, takenBack: 0 });
    expect([await count(a), await count(b)]).toEqual([3, 3]);
    expect((await rd.zrange(`${key}:ledger`, '0', '-1')).map(Number)).toEqual([S, S + 2, S + 3]);
  });

  it('takes a flagged address’s views of the steps its flag covers back, exactly once', async () => {
    // FARM flagged for step 2: its views of steps 0 to 2 (a×2, b×2) go; HOME's, and FARM's of step 3, stay.
    const done = await sink.commit(key, epoch, 10, Buffer.alloc(0), undefined, none(8, -1, [[7, 2, FARM]]));
    expect(done).toEqual({ applied: false, takenBack: 4 });
    expect([await count(a), await count(b)]).toEqual([1, 1]);
    // the same corrections again (a restored task reads the verdicts again): below 'vpos', refused
    expect(await sink.commit(key, epoch, 10, Buffer.alloc(0), undefined, none(8, -1, [[7, 2, FARM]]))).toEqual({ applied: false, takenBack: 0 });
    expect(await rd.hget(key, 'vpos')).toBe('8');
    expect([await count(a), await count(b)]).toEqual([1, 1]);
  });

  it('drops the steps whose verdicts are all in: what is left there stands', async () => {
    await sink.commit(key, epoch, 10, Buffer.alloc(0), undefined, none(9, S + 3));
    expect((await rd.zrange(`${key}:ledger`, '0', '-1')).map(Number)).toEqual([S + 3]);
    expect(await rd.exists(`${key}:ledger:${S}`)).toBe(0);
    // a late flag for HOME in step 0 finds nothing left to take back
    expect(await sink.commit(key, epoch, 10, Buffer.alloc(0), undefined, none(10, S + 3, [[9, 0, HOME]]))).toEqual({ applied: false, takenBack: 0 });
    expect(await count(a)).toBe(1);
  });

  it('writes nothing for a fenced worker', async () => {
    const { live, ledger } = flush([view(a, HOME, 4, 7)]);
    await expect(sink.commit(key, epoch - 1, 20, live, undefined, { ledger, corrections: corrections([[20, 4, HOME]]), verdictsTo: 21, dropBelow: S + 5 })).rejects.toThrow(FencedError);
    expect(await count(a)).toBe(1);
    expect(await rd.hget(key, 'vpos')).toBe('10');
  });

  it('puts a checkpoint’s provisional views back in the ledger on reset (reconcile --fix): a flag read again after it takes them back', async () => {
    // the live count as reconcile sets it, with a checkpoint's provisional views (FARM: a×2 in step 6, b×1 in step 8) in it
    const held = [view(a, FARM, 6, 7), view(a, FARM, 6, 8), view(b, FARM, 8, 9)];
    await sink.commit(key, epoch, 30, flush(held).live);
    expect([await count(a), await count(b)]).toEqual([3, 2]);
    await sink.reset(key, { offset: 30, chain: [Buffer.from('state')] }, flush(held).ledger);
    expect(await rd.hget(key, 'vpos')).toBeNull();
    expect((await rd.zrange(`${key}:ledger`, '0', '-1')).map(Number)).toEqual([S + 6, S + 8]);
    ({ epoch } = await sink.claim(key, `${key}:lock`));
    // the owner reads the verdicts again from its checkpoint's place (offset 2 here): FARM flagged in step 8 covers 6 to 8
    expect(await sink.commit(key, epoch, 30, Buffer.alloc(0), undefined, none(3, -1, [[2, 8, FARM]]))).toEqual({ applied: false, takenBack: 3 });
    expect([await count(a), await count(b)]).toEqual([1, 1]);
  });

  it('keeps the views of an address and step that come in two flushes, and a flag takes back both', async () => {
    // FARM in step 12: a in the flush to 40, a and b again in the flush to 50 (its group's entries go after those stored)
    const first = flush([view(a, FARM, 12, 10)]);
    const second = flush([view(a, FARM, 12, 11), view(b, FARM, 12, 12)]);
    expect(await sink.commit(key, epoch, 40, first.live, undefined, { ...none(3), ledger: first.ledger })).toEqual({ applied: true, takenBack: 0 });
    expect(await sink.commit(key, epoch, 50, second.live, undefined, { ...none(3), ledger: second.ledger })).toEqual({ applied: true, takenBack: 0 });
    expect([await count(a), await count(b)]).toEqual([3, 2]);
    expect((await rd.zrange(`${key}:ledger`, '0', '-1')).map(Number)).toEqual([S + 6, S + 8, S + 12]);
    expect(await sink.commit(key, epoch, 50, Buffer.alloc(0), undefined, none(5, -1, [[4, 12, FARM]]))).toEqual({ applied: false, takenBack: 3 });
    expect([await count(a), await count(b)]).toEqual([1, 1]);
  });
});
