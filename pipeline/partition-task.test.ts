import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultJobConfig } from './config.ts';
import { PartitionTask } from './partition-task.ts';
import { openWindowViews, readStateHead } from './partition-state.ts';
import { IpHasher } from './ip-privacy.ts';
import { loadBotRules } from '../operators/bot-rules-source.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { testEvent, testRecord } from '../operators/test-records.ts';
import { classifyRecord } from '../operators/classify.ts';
import { CheckpointFormatError } from '../sinks/sink-errors.ts';
import { MinuteWindows } from '../operators/tumbling-window.ts';
import { VerdictWriter } from '../schemas/address-messages.ts';
import { stepOf, VERDICT_STEP_MS } from '../schemas/verdict-step.ts';

const rules = loadBotRules();
const SEED = '11111111111111111111111111111111';
const newTask = (seed = SEED, ipSecret = 'test') =>
  new PartitionTask({
    topic: 't',
    partition: 0,
    progressKey: 'k',
    epoch: 1,
    config: defaultJobConfig(),
    addressPartitions: 2,
    botRules: () => rules,
    fingerprints: new Fingerprinter(seed),
    addressKeys: new Fingerprinter(SEED),
    hasher: new IpHasher(ipSecret),
    livePosition: -1,
    checkpointOffset: 0,
  });
const T0 = Date.UTC(2026, 0, 1, 12);
const MINUTE = 60_000;
const fp = new Fingerprinter(SEED);
const set = (store: PartitionTask['eventIds'], key: string, t: number) => (fp.string(key), store.set(fp.hi, fp.lo, t));

/** Everything a task holds, as a fresh snapshot would write it (the keyed tables and the head). */
function contents(task: PartitionTask): Buffer {
  const w = new BinaryWriter();
  task.windows.write(w, false);
  task.eventIds.write(w, false);
  task.sessions.write(w, false);
  task.bots.write(w, false);
  w.f64(task.nextOffset);
  w.f64(task.watermark.maxEventTs);
  return w.copy();
}

describe('PartitionTask checkpoint chain', () => {
  it('stores a snapshot first, then changes, and restores the chain to the same state', () => {
    const task = newTask();
    for (let i = 0; i < 5_000; i++) set(task.eventIds, `e${i}`, 1_000 + i);
    const first = task.encodeState();
    expect(first.full).toBe(true);
    const chain = [first.bytes];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        set(task.eventIds, `r${round}-${i}`, 10_000 + i);
        set(task.sessions, `v:${i}|video`, 10_000 + i);
      }
      const r = testRecord(testEvent({ ts: T0 + round * 60_000, video_id: `vid${round}` }), round);
      r.outcome = 'counted';
      task.windows.add(r);
      task.watermark.observe(T0 + round * 60_000);
      task.nextOffset = 100 * (round + 1);
      const link = task.encodeState();
      expect(link.full).toBe(false);
      // a change carries the 100 keys set since, not the 5 000 before
      expect(link.bytes.length).toBeLessThan(first.bytes.length / 5);
      expect(readStateHead(link.bytes)).toEqual({ full: false, nextOffset: 100 * (round + 1), maxEventTs: T0 + round * 60_000, checkpoints: 0 });
      chain.push(link.bytes);
    }
    const restored = newTask();
    restored.restore(chain);
    expect(restored.nextOffset).toBe(300);
    expect(contents(restored).equals(contents(task))).toBe(true);
  });

  it('starts a new chain once the changes weigh as much as the snapshot', () => {
    const task = newTask();
    for (let i = 0; i < 100; i++) set(task.eventIds, `e${i}`, i);
    let snapshotBytes = task.encodeState().bytes.length;
    let changeBytes = 0;
    let compactions = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 60; i++) set(task.eventIds, `r${round}-${i}`, 1_000 + i);
      const link = task.encodeState();
      expect(link.full).toBe(changeBytes >= snapshotBytes);
      if (link.full) {
        compactions++;
        [snapshotBytes, changeBytes] = [link.bytes.length, 0];
      } else {
        changeBytes += link.bytes.length;
      }
    }
    expect(compactions).toBeGreaterThanOrEqual(2);
  });

  it('refuses a chain that does not start with a snapshot', () => {
    const task = newTask();
    task.encodeState();
    set(task.eventIds, 'x', 1);
    const change = task.encodeState().bytes;
    expect(() => newTask().restore([change])).toThrow(/start with a full snapshot/);
  });

  it("refuses a chain written under another seed, saying what to do", () => {
    const task = newTask();
    set(task.eventIds, 'x', 1);
    const snapshot = task.encodeState().bytes;
    expect(() => newTask('22222222222222222222222222222222').restore([snapshot])).toThrow(CheckpointFormatError);
    expect(() => newTask('22222222222222222222222222222222').restore([snapshot])).toThrow(/another state seed/);
  });

  it('holds no string of a key in the stored state', () => {
    const task = newTask();
    set(task.eventIds, 'event-id-in-clear', 1);
    set(task.sessions, 'v:viewer-in-clear|video', 1);
    const bytes = task.encodeState().bytes;
    expect(bytes.includes(Buffer.from('event-id-in-clear'))).toBe(false);
    expect(bytes.includes(Buffer.from('viewer-in-clear'))).toBe(false);
  });

  it('stores the views held for their address verdict sealed (no IP in clear), and restores them only under the same IP secret', () => {
    const task = newTask();
    const r = testRecord(testEvent({ ts: T0, ip: '198.51.100.77', event_id: 'held-1' }), 0);
    classifyRecord(r, task, defaultJobConfig().view, defaultJobConfig().time);
    task.address.join(r);
    expect([r.outcome, r.held]).toEqual(['counted', true]);
    task.nextOffset = 1;
    const snapshot = task.encodeState().bytes;
    expect(snapshot.includes(Buffer.from('198.51.100.77'))).toBe(false);
    const restored = newTask();
    restored.restore([snapshot]);
    expect([restored.address.held.views, restored.address.held.counted]).toEqual([1, 1]);
    expect(() => newTask(SEED, 'another secret').restore([snapshot])).toThrow(/IP hash secret/);
  });

  it('stores the views held since the last link in a change, and a chain gives back every held view (restore and reconcile alike)', () => {
    const task = newTask();
    const hold = (offset: number, video: string) => {
      const r = testRecord(testEvent({ ts: T0 + offset, event_id: `held-${offset}`, viewer_id: `viewer-${offset}`, video_id: video }), offset);
      classifyRecord(r, task, defaultJobConfig().view, defaultJobConfig().time);
      task.address.join(r);
      expect(r.held).toBe(true);
      task.nextOffset = offset + 1;
    };
    for (let i = 0; i < 20; i++) hold(i, 'a');
    const snapshot = task.encodeState();
    hold(20, 'b');
    const change = task.encodeState();
    expect(change.full).toBe(false);
    // the change carries the one view held since, not the 21 held
    expect(change.bytes.length).toBeLessThan(snapshot.bytes.length / 4);
    const restored = newTask();
    restored.restore([snapshot.bytes, change.bytes]);
    expect([restored.address.held.views, restored.address.held.counted]).toEqual([21, 21]);
    expect(openWindowViews([snapshot.bytes, change.bytes], new IpHasher('test')).views).toEqual(new Map([['a', 20], ['b', 1]]));
  });

  it('reads a link written before verdict steps ("VTS4"): the same layout, its address flags per minute', () => {
    // a held view and a flag of its address under the index of the view's minute, as the release before
    // shared strings stored them ("VTS5", operators/held-views-inline-strings.fixture.json): read as it is,
    // the flag is of a step long before the view; read as "VTS4", of the view's minute
    const link = fixtureLink();
    expect(link.subarray(0, 4).toString()).toBe('VTS5');
    const perMinute = Buffer.from(link);
    perMinute.write('VTS4', 0);
    const r = testRecord(testEvent({ ts: T0 + 40_000, event_id: 'held', viewer_id: 'viewer', video_id: 'a' }), 0);
    classifyRecord(r, newTask(), defaultJobConfig().view, defaultJobConfig().time);
    const flagged = (chain: Buffer[]) => {
      const restored = newTask();
      restored.restore(chain);
      expect(restored.address.held.views).toBe(1);
      return restored.address.verdicts.flagOf(r.addressHi, r.addressLo, stepOf(r.event!.ts)) >= 0;
    };
    expect([flagged([link]), flagged([perMinute])]).toEqual([false, true]);
    // reconcile reads it the same way: the view is a bot, not a provisional view to keep
    expect(openWindowViews([link], new IpHasher('test')).views).toEqual(new Map([['a', 1]]));
    expect(openWindowViews([perMinute], new IpHasher('test')).views).toEqual(new Map());
  });

  it('follows a chain of an earlier version with a snapshot of this one, and extends a chain of this one', () => {
    const restoredFrom = (chain: Buffer[]) => {
      const task = newTask();
      task.restore(chain);
      task.nextOffset = 2;
      return task.encodeState();
    };
    const next = restoredFrom([fixtureLink()]);
    expect([next.full, next.bytes.subarray(0, 4).toString()]).toEqual([true, 'VTS7']);
    expect(restoredFrom([Buffer.from(next.bytes)]).full).toBe(false);
  });

  it('reads a chain written before pane changelogs ("VTS6", open windows as rows in every link): fires and reconciles the same', () => {
    // pipeline/open-windows-as-rows.fixture.json: the release before wrote the chain, and what its
    // task fired from the same state once every window was due
    const fixture = JSON.parse(readFileSync(new URL('./open-windows-as-rows.fixture.json', import.meta.url), 'utf8'));
    const chain = (fixture.chain as string[]).map((b) => Buffer.from(b, 'base64'));
    expect(chain.map((link) => link.subarray(0, 4).toString())).toEqual(['VTS6', 'VTS6']);
    const task = newTask(fixture.seed);
    task.restore(chain);
    const { block, windowsFired } = task.takeBlock(T0 + 10 * MINUTE, 'g');
    expect(windowsFired).toBe(fixture.restFired);
    expect(block.views.toString('base64')).toBe(fixture.restViews);
    expect(block.outcomes.toString('base64')).toBe(fixture.restOutcomes);
    expect(Object.fromEntries(openWindowViews(chain, new IpHasher('test')).views)).toEqual(fixture.openWindowViews);
    // and its next link is a snapshot of this version: a change would continue panes no stored link holds
    const next = task.encodeState();
    expect([next.full, next.bytes.subarray(0, 4).toString()]).toEqual([true, 'VTS7']);
  });

  it('checkpoints the open windows as a changelog: a change holds what they gained since, and restores the same', () => {
    const task = newTask();
    for (const q of [0, 1]) task.readVerdicts(new VerdictWriter().take(q, T0 + 10 * MINUTE), q);
    const add = (i: number) => {
      const r = testRecord(testEvent({ ts: T0 + 1_000 + i, video_id: `v${i % 100}`, viewer_id: `u${i}` }), i);
      r.outcome = 'counted';
      task.windows.add(r);
    };
    for (let i = 0; i < 2_000; i++) add(i);
    task.nextOffset = 2_000;
    const snapshot = task.encodeState();
    add(2_000);
    task.nextOffset = 2_001;
    const change = task.encodeState();
    expect(change.full).toBe(false);
    expect(change.bytes.length).toBeLessThan(snapshot.bytes.length / 20);
    const restored = newTask();
    restored.restore([Buffer.from(snapshot.bytes), Buffer.from(change.bytes)]);
    expect(contents(restored).equals(contents(task))).toBe(true);
    expect(openWindowViews([snapshot.bytes, change.bytes], new IpHasher('test')).views.get('v0')).toBe(21);
  });
});

/** A partition link with a held view, as the release before shared strings wrote it. */
function fixtureLink(): Buffer {
  const fixture = JSON.parse(readFileSync(new URL('../operators/held-views-inline-strings.fixture.json', import.meta.url), 'utf8'));
  return Buffer.from(fixture.partitionLinkWithHeldView, 'base64');
}

describe('PartitionTask firing', () => {
  /** A counted view of video `a` at `ts`. */
  const view = (ts: number, offset: number) => {
    const r = testRecord(testEvent({ ts, video_id: 'a' }), offset);
    r.outcome = 'counted';
    return r;
  };

  it('fires a window once a batch moves the watermark past it; the next block holds its rows and the late correction after them', () => {
    const task = newTask();
    // Both address partitions have judged the first ten minutes: only the event watermark holds the windows.
    for (const q of [0, 1]) task.readVerdicts(new VerdictWriter().take(q, T0 + 10 * MINUTE), q);
    const [first, late] = [view(T0 + 1_000, 0), view(T0 + 2_000, 1)];
    task.windows.add(first);
    task.fire(T0 + 30_000);
    expect(task.windows.openWindows).toBe(1);
    task.fire(T0 + MINUTE);
    expect(task.windows.openWindows).toBe(0); // fired with the batch, not at the checkpoint
    task.windows.add(late); // a correction of the fired minute
    task.fire(T0 + MINUTE + 30_000); // no new minute passed: it waits for the checkpoint
    expect(task.windows.openWindows).toBe(1);

    const reference = new MinuteWindows();
    const rows = { views: new BinaryWriter(), outcomes: new BinaryWriter() };
    reference.add(first);
    reference.fire(T0 + MINUTE, rows);
    reference.add(late);
    reference.fire(T0 + MINUTE + 30_000, rows);
    const { block, windowsFired } = task.takeBlock(T0 + MINUTE + 30_000, 'g');
    expect(windowsFired).toBe(2);
    expect(block.views.equals(rows.views.view())).toBe(true);
    expect(block.outcomes.equals(rows.outcomes.view())).toBe(true);
    const next = task.takeBlock(T0 + MINUTE + 30_000, 'g');
    expect([next.windowsFired, next.block.views.length, next.block.outcomes.length]).toEqual([0, 0, 0]);
  });

  it("keeps a checkpoint's bytes as they are until its block is written, and writes the next ones into the same memory after", async () => {
    const task = newTask();
    for (const q of [0, 1]) task.readVerdicts(new VerdictWriter().take(q, T0 + 10 * MINUTE), q);
    const checkpoint = (minute: number) => {
      for (let i = 0; i < 200; i++) set(task.eventIds, `m${minute}-${i}`, T0 + minute * MINUTE + i);
      task.windows.add(view(T0 + minute * MINUTE, minute));
      const { block } = task.takeBlock(T0 + (minute + 1) * MINUTE, 'g');
      return { views: block.views, state: task.encodeState().bytes };
    };
    const first = checkpoint(0);
    const kept = { views: Buffer.from(first.views), state: Buffer.from(first.state) };
    let landed!: () => void;
    task.writingBlock(new Promise<void>((resolve) => (landed = resolve)), 1);
    // The next checkpoint is taken while the first block's write still runs: it writes elsewhere.
    const second = checkpoint(1);
    expect(first.views.equals(kept.views) && first.state.equals(kept.state)).toBe(true);
    expect(second.views.buffer).not.toBe(first.views.buffer);
    expect(second.state.buffer).not.toBe(first.state.buffer);
    landed();
    await task.blockWritten();
    task.writingBlock(Promise.resolve(), 2);
    await task.blockWritten();
    // A state link is written into a writer given back; rows, into the one the windows fill from the last checkpoint on.
    const third = checkpoint(2);
    expect([first.state.buffer, second.state.buffer]).toContain(third.state.buffer);
    const fourth = checkpoint(3);
    expect([first.views.buffer, second.views.buffer]).toContain(fourth.views.buffer);
  });
});
