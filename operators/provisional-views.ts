import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { DEVICES, OUTCOMES, TRAFFIC_SOURCES, type Device, type Outcome, type TrafficSource, type ViewEvent } from '../schemas/view-event.ts';
import { stepOf } from '../schemas/verdict-step.ts';
import { rawRecord, type ViewRecord } from './view-record.ts';

const code = (list: readonly string[]) => new Map(list.map((s, i) => [s, i]));
const DEVICE_CODE = code(DEVICES);
const SOURCE_CODE = code(TRAFFIC_SOURCES);
const OUTCOME_CODE = code(OUTCOMES);

/** One verdict step's held views: their bytes, how many, how many of them were provisionally counted, and how many of the bytes stored links hold. */
interface HeldStep {
  w: BinaryWriter;
  views: number;
  counted: number;
  linked: number;
}

/**
 * Views whose final outcome waits for their address's verdict: provisionally counted (or session
 * duplicates, which an address flag turns into bots as well), held per verdict step of event time
 * as bytes — what their minute window and a `rejected_views` row need — until the verdict watermark
 * passes the step. Then each is released with its final outcome. Held views are part of the
 * checkpoint: a step's bytes only grow until it is released, so a change link holds the bytes added
 * since the last link, and the steps still held.
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
    if (!m) this.steps.set(step, (m = { w: new BinaryWriter(4096), views: 0, counted: 0, linked: 0 }));
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
    w.string(e.channel_id);
    w.string(e.category);
    w.string(e.country);
    w.string(e.event_id);
    w.string(e.ip);
    w.string(e.user_agent);
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
        e.channel_id = rd.string();
        e.category = rd.string();
        e.country = rd.string();
        const flag = flagOf(r.addressHi, r.addressLo, stepOf(e.ts));
        if (flag >= 0) {
          e.event_id = rd.string();
          e.ip = rd.string();
          e.user_agent = rd.string();
        } else {
          for (let k = 0; k < 3; k++) rd.skipString();
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
   * were released). `stepOfStored` maps a stored interval index to a step index (views held per
   * minute, before verdict steps, are held until the last step of their minute).
   */
  read(r: BinaryReader, replace: boolean, stepOfStored: (index: number) => number = (index) => index): void {
    const before = replace ? null : new Map(this.steps);
    this.steps.clear();
    for (let n = r.u32(); n > 0; n--) {
      const step = stepOfStored(r.f64());
      const views = r.u32();
      const counted = r.u32();
      const from = r.u32();
      const bytes = r.bytes(r.u32());
      let w: BinaryWriter;
      if (from === 0) {
        w = new BinaryWriter(Math.max(4096, bytes.length));
      } else {
        const held = before?.get(step);
        if (held?.w.length !== from) throw new RangeError(`binary state: held views of step ${step} continue from byte ${from}, the state before holds ${held?.w.length ?? 'none'}`);
        w = held.w;
      }
      w.bytes(bytes);
      this.steps.set(step, { w, views, counted, linked: w.length });
    }
  }
}
