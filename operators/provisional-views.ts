import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { DEVICES, OUTCOMES, TRAFFIC_SOURCES, type Device, type Outcome, type TrafficSource, type ViewEvent } from '../schemas/view-event.ts';
import { lastStepOfMinute, stepOf } from '../schemas/verdict-step.ts';
import { rawRecord, type ViewRecord } from './view-record.ts';

const code = (list: readonly string[]) => new Map(list.map((s, i) => [s, i]));
const DEVICE_CODE = code(DEVICES);
const SOURCE_CODE = code(TRAFFIC_SOURCES);
const OUTCOME_CODE = code(OUTCOMES);

/**
 * One verdict step's held views: their bytes, how many, how many of them were provisionally
 * counted, how many of the bytes stored links hold (and, while a chain is read, how many link bytes
 * were read into it), and the index of each string its views share (see `hold`).
 */
interface HeldStep {
  w: BinaryWriter;
  views: number;
  counted: number;
  linked: number;
  read: number;
  shared: Map<string, number>;
}

/** Bytes of a held view before its strings: address key, outcome, time, offset, video and viewer fingerprints, device, source. */
const FIXED_BYTES = 4 + 4 + 1 + 8 + 8 + 4 + 4 + 4 + 4 + 1 + 1;

/** How stored held views were written. */
export interface HeldViewsWritten {
  /** Before verdict steps: held per minute (and with their strings inline). */
  perMinute?: boolean;
  /** Before shared strings: every string of every view written out. */
  inlineStrings?: boolean;
}

/**
 * Views whose final outcome waits for their address's verdict: provisionally counted (or session
 * duplicates, which an address flag turns into bots as well), held per verdict step of event time
 * as bytes — what their minute window and a `rejected_views` row need — until the verdict watermark
 * passes the step. Then each is released with its final outcome. Held views are part of the
 * checkpoint: a step's bytes only grow until it is released, so a change link holds the bytes added
 * since the last link, and the steps still held.
 *
 * At the rates the job is built for a step holds hundreds of thousands of views, most of whose
 * channel, category, country and user agent repeat: those are written once per step and then
 * referred to by index (on the benchmark's stream 82 bytes per held view instead of 202), so the
 * bytes read in order define every string before its first reference.
 */
export class ProvisionalViews {
  // checkpointed state
  private readonly steps = new Map<number, HeldStep>();
  // not checkpointed: what a release hands out, reused
  private readonly event = { video_id: '', channel_id: '', category: '', country: '', device: 'other', traffic_source: 'other', event_id: '', ip: '', user_agent: '', ts: 0 } as ViewEvent;
  private readonly record: ViewRecord = rawRecord(0, 0, null);

  /** Views held. */
  get views(): number {
    let n = 0;
    for (const m of this.steps.values()) n += m.views;
    return n;
  }

  /** Provisionally counted views held: the live counters hold them until their verdict. */
  get counted(): number {
    let n = 0;
    for (const m of this.steps.values()) n += m.counted;
    return n;
  }

  /** Step index of the oldest held view, or +Infinity. */
  get oldestStep(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const step of this.steps.keys()) if (step < oldest) oldest = step;
    return oldest;
  }

  /** Holds a classified record (counted or duplicate) of a known address until its step's verdict. */
  hold(r: ViewRecord): void {
    const e = r.event!;
    const step = stepOf(e.ts);
    let m = this.steps.get(step);
    if (!m) this.steps.set(step, (m = { w: new BinaryWriter(4096), views: 0, counted: 0, linked: 0, read: 0, shared: new Map() }));
    const w = m.w;
    w.u32(r.addressHi);
    w.u32(r.addressLo);
    w.u8(OUTCOME_CODE.get(r.outcome!)!);
    w.f64(e.ts);
    w.f64(r.offset);
    w.u32(r.videoHi);
    w.u32(r.videoLo);
    w.u32(r.viewerHi);
    w.u32(r.viewerLo);
    w.u8(DEVICE_CODE.get(e.device)!);
    w.u8(SOURCE_CODE.get(e.traffic_source)!);
    w.string(e.video_id);
    share(m, e.channel_id);
    share(m, e.category);
    share(m, e.country);
    w.string(e.event_id);
    w.string(e.ip);
    share(m, e.user_agent);
    m.views++;
    if (r.outcome === 'counted') m.counted++;
  }

  /**
   * Releases every view of the steps that `isFinal` says are decided, oldest step first, each
   * as a record with its provisional outcome and address key, and the flag `flagOf` finds for its
   * address and step (-1 for none: the caller decides the final outcome from it; the step is the
   * view's own, which in views held per minute before verdict steps is not the one they are held
   * under); the record and its event are reused
   * between calls. What only a bot's `rejected_views` row needs (event id, IP, user agent) is read
   * only for flagged views; for the others those fields are empty.
   */
  release(isFinal: (step: number) => boolean, flagOf: (addressHi: number, addressLo: number, step: number) => number, take: (r: ViewRecord, flag: number) => void): void {
    const due = [...this.steps.keys()].filter(isFinal).sort((a, b) => a - b);
    const r = this.record;
    const e = this.event;
    for (const step of due) {
      const m = this.steps.get(step)!;
      this.steps.delete(step);
      const rd = new BinaryReader(m.w.view());
      const strings: string[] = [];
      while (rd.remaining > 0) {
        r.addressHi = rd.u32();
        r.addressLo = rd.u32();
        r.outcome = OUTCOMES[rd.u8()] as Outcome;
        e.ts = rd.f64();
        r.offset = rd.f64();
        r.videoHi = rd.u32();
        r.videoLo = rd.u32();
        r.viewerHi = rd.u32();
        r.viewerLo = rd.u32();
        e.device = DEVICES[rd.u8()] as Device;
        e.traffic_source = TRAFFIC_SOURCES[rd.u8()] as TrafficSource;
        e.video_id = rd.string();
        e.channel_id = sharedString(rd, strings);
        e.category = sharedString(rd, strings);
        e.country = sharedString(rd, strings);
        const flag = flagOf(r.addressHi, r.addressLo, stepOf(e.ts));
        if (flag >= 0) {
          e.event_id = rd.string();
          e.ip = rd.string();
          e.user_agent = sharedString(rd, strings);
        } else {
          rd.skipString();
          rd.skipString();
          sharedString(rd, strings);
          e.event_id = e.ip = e.user_agent = '';
        }
        r.event = e;
        r.kafkaTs = e.ts;
        r.bot = null;
        r.late = false;
        r.held = false;
        take(r, flag);
      }
    }
  }

  /** Writes the held steps: every view (`changedOnly` false), or the views added since the last write. */
  write(w: BinaryWriter, changedOnly: boolean): void {
    w.u32(this.steps.size);
    for (const [step, m] of this.steps) {
      const from = changedOnly ? m.linked : 0;
      w.f64(step);
      w.u32(m.views);
      w.u32(m.counted);
      w.u32(from);
      w.u32(m.w.length - from);
      w.range(m.w.view(), from, m.w.length);
      m.linked = m.w.length;
    }
  }

  /**
   * Reads written held steps: in place of the held views (`replace`), or as a change (steps not in it
   * were released). Views held per minute, before verdict steps, are held until the last step of
   * their minute; views written with their strings inline are rewritten with shared strings (a
   * chain of those is followed by a snapshot: see pipeline/partition-state.ts).
   */
  read(r: BinaryReader, replace: boolean, written: HeldViewsWritten = {}): void {
    const before = replace ? null : new Map(this.steps);
    this.steps.clear();
    for (let n = r.u32(); n > 0; n--) {
      const stored = r.f64();
      const step = written.perMinute ? lastStepOfMinute(stored) : stored;
      const views = r.u32();
      const counted = r.u32();
      const from = r.u32();
      const bytes = r.bytes(r.u32());
      let m: HeldStep;
      if (from === 0) {
        m = { w: new BinaryWriter(Math.max(4096, bytes.length)), views, counted, linked: 0, read: 0, shared: new Map() };
      } else {
        const held = before?.get(step);
        if (held?.read !== from) throw new RangeError(`binary state: held views of step ${step} continue from byte ${from}, the state before holds ${held?.read ?? 'none'}`);
        m = held;
        m.views = views;
        m.counted = counted;
      }
      if (written.inlineStrings || written.perMinute) shareInlineStrings(m, bytes);
      else {
        m.w.bytes(bytes);
        noteShared(m, bytes);
      }
      m.read += bytes.length;
      m.linked = m.w.length;
      this.steps.set(step, m);
    }
  }
}

/** Writes a string a step's views share: its index + 1 once the step has it, else 0 and the string, which gets the next index. */
function share(m: HeldStep, s: string): void {
  const index = m.shared.get(s);
  if (index !== undefined) {
    m.w.varUint(index + 1);
    return;
  }
  m.shared.set(s, m.shared.size);
  m.w.varUint(0);
  m.w.string(s);
}

/** Reads a shared string (see `share`); `strings` holds those the step's bytes defined before it. */
function sharedString(rd: BinaryReader, strings: string[]): string {
  const ref = rd.varUint();
  if (ref === 0) {
    const s = rd.string();
    strings.push(s);
    return s;
  }
  if (ref > strings.length) throw new RangeError(`binary state: a held view refers to shared string ${ref - 1}, its step defines ${strings.length} before it`);
  return strings[ref - 1];
}

/** Learns the strings that held views read from storage define, so that views held from now on refer to them. */
function noteShared(m: HeldStep, bytes: Buffer): void {
  const rd = new BinaryReader(bytes);
  const strings: string[] = [...m.shared.keys()];
  while (rd.remaining > 0) {
    rd.bytes(FIXED_BYTES);
    rd.skipString();
    for (let k = 0; k < 3; k++) sharedString(rd, strings);
    rd.skipString();
    rd.skipString();
    sharedString(rd, strings);
  }
  for (let i = m.shared.size; i < strings.length; i++) m.shared.set(strings[i], i);
}

/** Appends held views written with every string inline, their shared strings rewritten as references. */
function shareInlineStrings(m: HeldStep, bytes: Buffer): void {
  const rd = new BinaryReader(bytes);
  while (rd.remaining > 0) {
    m.w.bytes(rd.bytes(FIXED_BYTES));
    m.w.string(rd.string());
    for (let k = 0; k < 3; k++) share(m, rd.string());
    m.w.string(rd.string());
    m.w.string(rd.string());
    share(m, rd.string());
  }
}
