import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { BinaryReader } from '../schemas/binary-reader.ts';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import type { Fingerprinter } from './fingerprint.ts';
import type { PartitionBatch, ViewRecord } from './view-record.ts';
import { MinutePane } from './minute-pane.ts';

const MINUTE = 60_000;

/** Where a firing writes its rows: RowBinary of `views_minute_rows` and of `view_outcomes_minute`. */
export interface FiredRows {
  views: BinaryWriter;
  outcomes: BinaryWriter;
}

/** One pane as its minute and its rows (RowBinary of `views_minute_rows` and `view_outcomes_minute`). */
export interface PaneRows {
  minute: number;
  views: Buffer;
  outcomes: Buffer;
}

/** Whether a record has an event time to window by; invalid ones are recorded by arrival time. */
function hasEventTime(r: ViewRecord): boolean {
  return r.event !== null && r.outcome !== 'invalid';
}

const minuteOf = (t: number) => Math.floor(t / MINUTE) * MINUTE;

/**
 * Tumbling event-time minute windows of one partition. A window fires when the watermark passes
 * its end; an event for a window that already fired is late and goes to a correction pane of its
 * minute, emitted at the next firing (the `too_late` rule, decided by classify, bounds how late).
 */
export class MinuteWindows {
  // checkpointed state
  private readonly panes = new Map<number, MinutePane>();
  /** Every window ending at or before this time has fired. */
  private firedThrough = Number.NEGATIVE_INFINITY;
  /** Invalid events by arrival minute: no event time to wait for, so every firing emits them. */
  private readonly arrivals = new Map<number, MinutePane>();
  // not checkpointed: metrics
  lateEvents = 0;

  /** Assigns a classified record to its minute window; a held one (its address verdict pending) comes when released. */
  add(r: ViewRecord): void {
    if (r.held) return;
    if (!hasEventTime(r)) {
      paneOf(this.arrivals, minuteOf(r.kafkaTs)).add(r);
      return;
    }
    const minute = minuteOf(r.event!.ts);
    if (minute + MINUTE <= this.firedThrough) {
      r.late = true;
      this.lateEvents++;
    }
    paneOf(this.panes, minute).add(r);
  }

  /** Fires every window whose end is at or before `watermark`, writing its rows; returns the windows fired. */
  fire(watermark: number, out: FiredRows): number {
    for (const pane of this.arrivals.values()) pane.writeRows(out.views, out.outcomes); // outcome rows only: invalid events count no view
    this.arrivals.clear();
    let fired = 0;
    for (const [minute, pane] of this.panes) {
      if (minute + MINUTE > watermark) continue;
      pane.writeRows(out.views, out.outcomes);
      fired++;
      this.panes.delete(minute);
    }
    const end = Math.floor(watermark / MINUTE) * MINUTE;
    if (end > this.firedThrough) this.firedThrough = end;
    return fired;
  }

  get openWindows(): number {
    return this.panes.size;
  }

  /**
   * Writes the open windows: whole, or (`changedOnly`) what each gained since the last write — a
   * minute's pane holds one viewer key per counted view, megabytes at speed, and rewriting them all
   * every checkpoint was most of a change link. A pane fired since is not in the change.
   */
  write(w: BinaryWriter, changedOnly: boolean): void {
    w.f64(this.firedThrough);
    for (const panes of [this.panes, this.arrivals]) {
      w.u32(panes.size);
      for (const pane of panes.values()) {
        w.f64(pane.minute);
        pane.writeLink(w, changedOnly);
      }
    }
  }

  /** Reads written windows: in place of these (`replace`), or as a change (windows not in it have fired). */
  read(r: BinaryReader, replace: boolean): void {
    this.firedThrough = r.f64();
    for (const panes of [this.panes, this.arrivals]) {
      const before = replace ? null : new Map(panes);
      panes.clear();
      for (let n = r.u32(); n > 0; n--) {
        const minute = r.f64();
        panes.set(minute, MinutePane.readLink(r, minute, before?.get(minute)));
      }
    }
  }

  /** Replaces the open windows with ones written as their rows, whole in every link (before VTS7); video ids are fingerprinted again. */
  readRows(r: BinaryReader, fp: Fingerprinter): void {
    const firedThrough = r.f64();
    const [panes, arrivals] = [0, 1].map(() => Array.from({ length: r.u32() }, () => ({ minute: r.f64(), views: r.bytes(r.u32()), outcomes: r.bytes(r.u32()) })));
    this.load(firedThrough, panes, arrivals, fp);
  }

  /** The counted views of the open windows, by video id. */
  countViews(): Map<string, number> {
    const views = new Map<string, number>();
    for (const pane of this.panes.values()) pane.countViews(views);
    return views;
  }

  /** Replaces the open windows with panes given as their RowBinary rows (event-time panes, and invalid events by arrival). */
  load(firedThrough: number, panes: PaneRows[], arrivals: PaneRows[], fp: Fingerprinter): void {
    this.firedThrough = firedThrough;
    for (const [map, rows] of [[this.panes, panes], [this.arrivals, arrivals]] as const) {
      map.clear();
      for (const p of rows) {
        const pane = new MinutePane(p.minute);
        pane.readRows(p.views, p.outcomes, fp);
        map.set(p.minute, pane);
      }
    }
  }
}

function paneOf(panes: Map<number, MinutePane>, minute: number): MinutePane {
  let pane = panes.get(minute);
  if (!pane) {
    pane = new MinutePane(minute);
    panes.set(minute, pane);
  }
  return pane;
}

/** Assigns every record of a batch to its partition's minute windows. */
export function tumblingWindow<T extends PartitionBatch>(deps: { windows: (batch: T) => MinuteWindows }): MonoTypeOperatorFunction<T> {
  return map((batch) => {
    const w = deps.windows(batch);
    for (const r of batch.records) w.add(r);
    return batch;
  });
}
