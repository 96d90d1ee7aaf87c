import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { AddressMessage, RECORD_BAND, RECORD_LATE, VerdictWriter } from '../schemas/address-messages.ts';
import { AddressJoin, provisionallyCounted } from './address-join.ts';
import { forEachLedgerGroup } from './provisional-ledger.ts';
import { SIGNAL_BIT } from './bot-scorer.ts';
import { testEvent, testRecord } from './test-records.ts';
import { ADDRESS_JUDGED, type ViewRecord } from './view-record.ts';

const MINUTE = 60_000;
const STEP = 30_000;
const T0 = Date.UTC(2026, 0, 1, 12);
const FARM: [number, number] = [0x1234, 0x5678];
const HOME: [number, number] = [0x9abc, 0xdef0];

/** An address key's 8 bytes as the ledger stores them. */
function addressBytes([hi, lo]: [number, number]): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(hi, 0);
  b.writeUInt32LE(lo, 4);
  return b;
}

/** A classified record of a judged address. */
function record(offset: number, ts: number, address: [number, number], outcome: ViewRecord['outcome'], flags = 0): ViewRecord {
  const r = testRecord(testEvent({ event_id: `e${offset}`, ts, video_id: `v${offset % 3}`, ip: '73.1.2.3' }), offset);
  r.outcome = outcome;
  r.addressHi = address[0];
  r.addressLo = address[1];
  r.addressFlags = ADDRESS_JUDGED | flags;
  return r;
}

/** A verdict message of address partition `q`: flags for (address, verdict step offset from T0), then the verdict watermark. */
function verdicts(q: number, watermark: number, flags: Array<[[number, number], number]> = []): Buffer {
  const w = new VerdictWriter();
  for (const [[hi, lo], s] of flags) w.add(hi, lo, T0 + s * STEP, SIGNAL_BIT.ip_velocity, 1);
  return w.take(q, watermark);
}

/** A verdict message as written before verdict steps (version 1): its flags are for minutes, as offsets from T0. */
function minuteVerdicts(q: number, watermark: number, flags: Array<[[number, number], number]>): Buffer {
  const m = verdicts(q, watermark, flags.map(([address, minute]) => [address, 2 * minute]));
  m[0] = 1;
  return m;
}

/** Each correction of a flush: `<verdict-topic offset>:<step offset from T0>:<address hi>`. */
function corrections(bytes: Buffer): string[] {
  const c = new BinaryReader(bytes);
  const out: string[] = [];
  while (c.remaining > 0) {
    const [offset, step, hi] = [c.f64(), c.u32(), c.u32(), c.u32()];
    out.push(`${offset}:${step - T0 / STEP}:${hi}`);
  }
  return out;
}

const FIXTURE: Record<string, string | string[]> = JSON.parse(readFileSync(new URL('./held-views-inline-strings.fixture.json', import.meta.url), 'utf8'));

/** A state the release before shared strings stored (see the fixture's `about`). */
function fixture(name: string): Buffer {
  return Buffer.from(FIXTURE[name] as string, 'base64');
}

describe('address join (the counting stage side)', () => {
  it('holds views until their minute has its verdicts, then releases them: flagged as bots (the steps before a flag covered too), the rest as classified', () => {
    const join = new AddressJoin(2);
    const rs = [record(0, T0 + 10_000, FARM, 'counted'), record(1, T0 + MINUTE + 5_000, FARM, 'duplicate'), record(2, T0 + MINUTE + 9_000, HOME, 'counted'), record(3, T0 + 2 * MINUTE, FARM, 'counted')];
    rs.forEach((r) => join.join(r));
    expect(rs.map((r) => r.held)).toEqual([true, true, true, true]);
    expect(join.held.counted).toBe(3);
    const released: string[] = [];
    const take = (r: ViewRecord) => released.push(`${r.offset}:${r.outcome}:${r.bot?.reasons.join('+') ?? ''}`);
    // Partition 0 is through minute 1, partition 1 only through minute 0: minute 0 is final. FARM's flag of step 2 covers steps 0 and 1.
    join.readVerdicts(verdicts(0, T0 + 2 * MINUTE, [[FARM, 2]]), 0);
    join.readVerdicts(verdicts(1, T0 + MINUTE), 1);
    join.release(T0, take);
    expect(released).toEqual(['0:bot:ip_velocity']);
    join.readVerdicts(verdicts(1, T0 + 3 * MINUTE), 2);
    join.release(T0, take);
    expect(released).toEqual(['0:bot:ip_velocity', '1:bot:ip_velocity', '2:counted:']);
    // Minute 2 is not final (partition 0 is through minute 1); a view there known flagged is a bot at once.
    expect(join.held.views).toBe(1);
    join.readVerdicts(verdicts(0, T0 + 2 * MINUTE, [[FARM, 6]]), 3);
    const next = record(4, T0 + 2 * MINUTE + 30_000, FARM, 'counted');
    join.join(next);
    expect([next.held, next.outcome, next.bot?.reasons]).toEqual([false, 'bot', ['ip_velocity']]);
  });

  it('decides a view once its verdict step is final, before the rest of its minute is', () => {
    const join = new AddressJoin(1);
    join.readVerdicts(verdicts(0, T0 + STEP), 0);
    const early = record(0, T0 + 10_000, HOME, 'counted');
    const later = record(1, T0 + STEP + 10_000, HOME, 'counted');
    join.join(early);
    join.join(later);
    expect([early.held, early.outcome, later.held]).toEqual([false, 'counted', true]);
  });

  it('never holds late views, local bots or views of unjudged addresses, yet sends every judged one to the address stage', () => {
    const join = new AddressJoin(1);
    const late = record(0, T0, FARM, 'counted', RECORD_LATE);
    const bot = record(1, T0, FARM, 'bot');
    const nat = record(2, T0, FARM, 'counted');
    nat.addressFlags = 0;
    const banded = record(3, T0, FARM, 'counted', RECORD_BAND);
    for (const r of [late, bot, nat, banded]) join.join(r);
    expect([late.held, bot.held, nat.held, banded.held]).toEqual([false, false, false, true]);
    const [m] = join.takeRecords(7, T0 - 5_000, false);
    const message = new AddressMessage().load(m.value);
    expect([message.sourcePartition, message.watermark, message.idle, message.count]).toEqual([7, T0 - 5_000, false, 3]);
    expect([0, 1, 2].map((i) => [message.offset(i), message.flags(i)])).toEqual([
      [0, RECORD_LATE],
      [1, 0],
      [3, RECORD_BAND],
    ]);
    // A marker that did not move and no records: nothing is due, but every 20th flush sends it again.
    expect(join.recordsDue(T0 - 5_000, true)).toBe(true);
    expect(Array.from({ length: 20 }, () => join.recordsDue(T0 - 5_000, false)).map((due, i) => (due ? i : -1)).filter((i) => i >= 0)).toEqual([19]);
  });

  it('writes the ledger and the corrections for the live counters, and says how far the verdicts are read', () => {
    const join = new AddressJoin(1);
    for (const r of [record(0, T0, FARM, 'counted'), record(3, T0 + 1, FARM, 'counted'), record(1, T0 + 2, FARM, 'counted'), record(2, T0 + 3, HOME, 'counted')]) {
      join.join(r);
      join.provisionallyCounted(r);
    }
    join.readVerdicts(verdicts(0, T0, [[FARM, 0]]), 41);
    const p = join.takeProvisional();
    expect([p.verdictsTo, p.dropBelow]).toEqual([42, T0 / STEP]);
    const ledger = new BinaryReader(p.ledger);
    const groups: string[] = [];
    while (ledger.remaining > 0) {
      const [step, hi, lo, n] = [ledger.u32(), ledger.u32(), ledger.u32(), ledger.u32()];
      const entries = Array.from({ length: n }, () => `${ledger.bytes(ledger.u16()).toString()}×${ledger.u32()}`);
      groups.push(`${step - T0 / STEP}/${hi}/${lo}: ${entries.sort().join(' ')}`);
    }
    expect(groups.sort()).toEqual([`0/${FARM[0]}/${FARM[1]}: v0×2 v1×1`, `0/${HOME[0]}/${HOME[1]}: v2×1`].sort());
    // the flag of step 0 takes back the address's ledger of step 0 and of the two steps before, which it covers
    expect(corrections(p.corrections)).toEqual([`41:-2:${FARM[0]}`, `41:-1:${FARM[0]}`, `41:0:${FARM[0]}`]);
    // taken: the next flush has none of it
    expect(join.provisionalDue(42)).toBe(false);
  });

  it('restores held views and verdicts to the same releases, and counts the unflagged provisional views of a stored state', () => {
    const join = new AddressJoin(1);
    const rs = [record(0, T0, FARM, 'counted'), record(1, T0 + 1, HOME, 'counted'), record(2, T0 + 2, HOME, 'duplicate'), record(3, T0 + MINUTE, HOME, 'counted')];
    rs.forEach((r) => join.join(r));
    join.readVerdicts(verdicts(0, T0, [[FARM, 0]]), 0);
    const w = new BinaryWriter();
    join.write(w, false);
    const stored = w.copy();
    const held = provisionallyCounted([{ state: new BinaryReader(stored), written: {} }]);
    expect(held.views).toEqual(new Map([['v1', 1], ['v0', 1]]));
    // their ledger: HOME's views of steps 0 and 2, one each (FARM's is flagged already)
    const groups: string[] = [];
    forEachLedgerGroup(held.ledger, (step, address, entries) => groups.push(`${step - T0 / STEP}:${address.equals(addressBytes(HOME))}:${entries.length}`));
    expect(groups.sort()).toEqual(['0:true:8', '2:true:8']);
    const restored = new AddressJoin(1);
    restored.read(new BinaryReader(stored), true);
    const outcomes = (j: AddressJoin) => {
      const out: string[] = [];
      j.readVerdicts(verdicts(0, T0 + 2 * MINUTE), 1);
      j.release(T0, (r) => out.push(`${r.offset}:${r.outcome}:${r.event!.video_id}:${r.event!.ip}`));
      return out;
    };
    // the IP is read back for bots only (their rejected_views row)
    const expected = ['0:bot:v0:73.1.2.3', '1:counted:v1:', '2:duplicate:v2:', '3:counted:v0:'];
    expect(outcomes(join)).toEqual(expected);
    expect(outcomes(restored)).toEqual(expected);
  });

  it('stores held views as changes: a change link holds the views held since the last link and drops the minutes released', () => {
    const join = new AddressJoin(1);
    const link = (changedOnly: boolean) => {
      const w = new BinaryWriter();
      join.write(w, changedOnly);
      return w.copy();
    };
    const joined = (rs: ViewRecord[]) => rs.forEach((r) => join.join(r));
    joined([record(0, T0, FARM, 'counted'), record(1, T0 + 1, HOME, 'counted')]);
    const snapshot = link(false);
    joined([record(2, T0 + 2, HOME, 'duplicate'), record(3, T0 + MINUTE, HOME, 'counted')]);
    const change1 = link(true);
    // minute 0 is decided (FARM flagged): its views leave; minute 1 goes on holding
    join.readVerdicts(verdicts(0, T0 + MINUTE, [[FARM, 0]]), 0);
    const released: string[] = [];
    join.release(T0, (r) => released.push(`${r.offset}:${r.outcome}`));
    expect(released).toEqual(['0:bot', '1:counted', '2:duplicate']);
    joined([record(4, T0 + MINUTE + 1, FARM, 'counted')]);
    const change2 = link(true);
    // a change holds only the views held since the last link: one of the two minute 1 holds, then none
    const whole = link(false);
    const empty = link(true);
    const oneView = change2.length - empty.length;
    expect(oneView).toBeGreaterThan(50);
    // the whole step: the same view, and the one before it, which also defines the strings they share
    const e = record(3, T0 + MINUTE, HOME, 'counted').event!;
    const definitions = [e.channel_id, e.category, e.country, e.user_agent].reduce((n, s) => n + 1 + Buffer.byteLength(s), 0);
    expect(whole.length - empty.length).toBe(2 * oneView + definitions);

    const restore = (links: Buffer[]) => {
      const j = new AddressJoin(1);
      links.forEach((b, i) => j.read(new BinaryReader(b), i === 0));
      return j;
    };
    // a change's views refer to the strings its step's views in the snapshot defined
    const decided = (j: AddressJoin) => {
      const out: string[] = [];
      j.readVerdicts(verdicts(0, T0 + 2 * MINUTE, [[FARM, 2]]), 1);
      j.release(T0, (r) => out.push(`${r.offset}:${r.outcome}:${r.event!.video_id}:${r.event!.channel_id}:${r.event!.category}:${r.event!.country}:${r.event!.user_agent.slice(0, 11)}`));
      return out;
    };
    const expected = ['3:counted:v0:ch1:music:DE:', '4:bot:v1:ch1:music:DE:Mozilla/5.0'];
    expect(decided(restore([snapshot, change1, change2]))).toEqual(expected);
    expect(provisionallyCounted([snapshot, change1, change2].map((b) => ({ state: new BinaryReader(b), written: {} }))).views).toEqual(new Map([['v0', 1], ['v1', 1]]));
    expect(decided(join)).toEqual(expected);
    // a change read on a state that does not hold what it continues is refused, not merged
    expect(() => restore([snapshot, change2])).toThrow(/continue from byte/);
  });

  it('reads verdicts written per minute, before verdict steps, as flags of both steps of the minute: the same views are bots, the same taken back', () => {
    // FARM's views at 0:10 (minute 0), 1:10 and 1:40 (minute 1), 2:10 (minute 2); a minute 1 flag covers minutes 0 and 1.
    const views = () => [10, 70, 100, 130].map((sec, i) => record(i, T0 + sec * 1_000, FARM, 'counted'));
    const fromMessage = new AddressJoin(1);
    fromMessage.readVerdicts(minuteVerdicts(0, T0 + 3 * MINUTE, [[FARM, 1]]), 7);
    const bots = (j: AddressJoin) => views().map((r) => (j.join(r), r.outcome));
    expect(bots(fromMessage)).toEqual(['bot', 'bot', 'bot', 'counted']);
    // its corrections cover steps 0 to 3 (minutes 0 and 1) and no other, each at least once
    expect(new Set(corrections(fromMessage.takeProvisional().corrections))).toEqual(new Set([0, 1, 2, 3].map((s) => `7:${s}:${FARM[0]}`)));
    // a stored state of that time: the flag's step is the minute's index, read per minute
    const stored = new BinaryWriter();
    const perMinuteState = new AddressJoin(1);
    const flag = new VerdictWriter();
    flag.add(FARM[0], FARM[1], (T0 / MINUTE + 1) * STEP, SIGNAL_BIT.ip_velocity, 1); // stored as step index T0's minute + 1: minute 1's index
    perMinuteState.readVerdicts(flag.take(0, T0 + 3 * MINUTE), 7);
    perMinuteState.write(stored, false);
    const restored = new AddressJoin(1);
    restored.read(new BinaryReader(stored.copy()), true, { perMinute: true });
    expect(bots(restored)).toEqual(['bot', 'bot', 'bot', 'counted']);
  });

  it('holds views stored per minute, before verdict steps, until the last step of their minute', () => {
    // a view held by that release under the index of T0's minute (held by the release before shared strings under the same index, then patched as per-minute state)
    const restored = new AddressJoin(1);
    restored.read(new BinaryReader(fixture('heldUnderMinuteIndex')), true, { perMinute: true });
    const released: number[] = [];
    restored.readVerdicts(verdicts(0, T0 + STEP), 0);
    restored.release(T0, (r) => released.push(r.offset));
    expect(released).toEqual([]);
    restored.readVerdicts(verdicts(0, T0 + MINUTE), 1);
    restored.release(T0, (r) => released.push(r.offset));
    expect(released).toEqual([0]);
  });

  it('decides a view held per minute by its own step: a flag of its step makes it a bot, with what its rejected row needs', () => {
    // held by the release before shared strings at T0 + 10 s (step T0 / STEP), then its step's index turned into its minute's, as the release before steps stored it
    const bytes = fixture('heldUnderOwnStep');
    const [stepIndex, minuteIndex] = [Buffer.alloc(8), Buffer.alloc(8)];
    stepIndex.writeDoubleLE(T0 / STEP);
    minuteIndex.writeDoubleLE(T0 / MINUTE);
    const at = bytes.indexOf(stepIndex);
    expect(at).toBeGreaterThan(0);
    minuteIndex.copy(bytes, at);
    const restored = new AddressJoin(1);
    restored.read(new BinaryReader(bytes), true, { perMinute: true });
    // FARM's flag of step 0 covers the view's step, not the step it is held under (1)
    restored.readVerdicts(verdicts(0, T0 + MINUTE, [[FARM, 0]]), 0);
    const released: string[] = [];
    restored.release(T0, (r) => released.push(`${r.offset}:${r.outcome}:${r.event!.ip}`));
    expect(released).toEqual(['0:bot:73.1.2.3']);
  });

  it('stores the channel, category, country and user agent the views of a step share once, and refers to them after', () => {
    const join = new AddressJoin(1);
    const size = () => {
      const w = new BinaryWriter();
      join.write(w, false);
      return w.length;
    };
    const empty = size();
    join.join(record(0, T0, HOME, 'counted'));
    const first = size() - empty;
    join.join(record(1, T0 + 1, HOME, 'counted'));
    const second = size() - empty - first;
    // fixed fields (43 bytes), video id "v1", event id "e1" and IP "73.1.2.3" with their lengths, four references of a byte
    expect(second).toBe(43 + 3 + 3 + 9 + 4);
    // the first starts its step (24 bytes: step, views, counted views, where the bytes continue, their length) and defines the four strings: each with its length after its reference byte
    const e = record(0, T0, HOME, 'counted').event!;
    expect(first - second).toBe(24 + [e.channel_id, e.category, e.country, e.user_agent].reduce((n, s) => n + 1 + Buffer.byteLength(s), 0));
    // a view of another step defines them again there
    join.join(record(2, T0 + STEP, HOME, 'counted'));
    expect(size() - empty - first - second).toBe(first);
  });

  it('reads held views stored with every string inline (before shared strings) into the views it holds now: the same releases', () => {
    const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
    // the views the release before stored (operators/held-views-inline-strings.fixture.json: a snapshot after the first four, a change after the rest)
    const views: Array<[number, number, [number, number], ViewRecord['outcome'], Partial<ViewRecord['event']>]> = [
      [0, T0 + 1_000, FARM, 'counted', { user_agent: UA, channel_id: 'c1', category: 'music', country: 'DE' }],
      [1, T0 + 2_000, HOME, 'counted', { user_agent: UA, channel_id: 'c1', category: 'music', country: 'DE' }],
      [2, T0 + 3_000, HOME, 'duplicate', { user_agent: 'Ünïcode agent ✓', channel_id: 'c2', category: 'news', country: 'US' }],
      [3, T0 + STEP + 1_000, FARM, 'counted', { user_agent: UA, channel_id: 'c2', category: 'music', country: 'DE' }],
      [4, T0 + 4_000, FARM, 'counted', { user_agent: 'Ünïcode agent ✓', channel_id: 'c1', category: '', country: 'DE' }],
      [5, T0 + STEP + 2_000, HOME, 'counted', { user_agent: '', channel_id: 'c3', category: 'gaming', country: 'JP' }],
    ];
    const now = new AddressJoin(1);
    for (const [offset, ts, address, outcome, fields] of views) {
      const r = record(offset, ts, address, outcome);
      Object.assign(r.event!, fields);
      now.join(r);
    }
    const [snapshot, change] = (FIXTURE.sharedStringsChain as string[]).map((b) => Buffer.from(b, 'base64'));
    const before = new AddressJoin(1);
    before.read(new BinaryReader(snapshot), true, { inlineStrings: true });
    before.read(new BinaryReader(change), false, { inlineStrings: true });
    const released = (j: AddressJoin) => {
      const out: string[] = [];
      j.readVerdicts(verdicts(0, T0 + 2 * MINUTE, [[FARM, 0]]), 0);
      j.release(T0, (r) => {
        const e = r.event!;
        out.push([r.offset, r.outcome, e.video_id, e.channel_id, e.category, e.country, e.event_id, e.ip, e.user_agent].join('|'));
      });
      return out;
    };
    const expected = released(now);
    expect(expected).toEqual([
      `0|bot|v0|c1|music|DE|e0|73.1.2.3|${UA}`,
      '1|counted|v1|c1|music|DE|||',
      '2|duplicate|v2|c2|news|US|||',
      '4|bot|v1|c1||DE|e4|73.1.2.3|Ünïcode agent ✓',
      '3|counted|v0|c2|music|DE|||',
      '5|counted|v2|c3|gaming|JP|||',
    ]);
    expect(released(before)).toEqual(expected);
    // and reconcile counts their provisional views (no verdicts stored with them: every counted view, 0, 1, 3, 4 and 5)
    const links = [snapshot, change].map((b) => ({ state: new BinaryReader(b), written: { inlineStrings: true } }));
    expect(provisionallyCounted(links).views).toEqual(new Map([['v0', 2], ['v1', 2], ['v2', 1]]));
  });
});
