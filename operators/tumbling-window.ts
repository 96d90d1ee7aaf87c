import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { PartitionBatch, ViewRecord } from './view-record.ts';
import { MinutePane, type OutcomeRow, type ViewsRow } from './minute-pane.ts';

const MINUTE = 60_000;

/** What one firing emits: the panes whose minute the watermark has passed, late corrections included. */
export interface FiredWindows {
  views: ViewsRow[];
  outcomes: OutcomeRow[];
  windowsFired: number;
}

/** Snapshot of a partition's open windows. */
export interface MinuteWindowsSnapshot {
  firedThrough: number;
  panes: ReturnType<MinutePane['snapshot']>[];
  arrivals?: ReturnType<MinutePane['snapshot']>[];
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

  /** Assigns a classified record to its minute window. */
  add(r: ViewRecord): void {
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

  /** Fires every window whose end is at or before `watermark`. */
  fire(watermark: number): FiredWindows {
    const fired: FiredWindows = { views: [], outcomes: [], windowsFired: 0 };
    for (const pane of this.arrivals.values()) for (const o of pane.outcomes.values()) fired.outcomes.push(o);
    this.arrivals.clear();
    for (const [minute, pane] of this.panes) {
      if (minute + MINUTE > watermark) continue;
      for (const v of pane.views.values()) fired.views.push(v);
      for (const o of pane.outcomes.values()) fired.outcomes.push(o);
      fired.windowsFired++;
      this.panes.delete(minute);
    }
    const end = Math.floor(watermark / MINUTE) * MINUTE;
    if (end > this.firedThrough) this.firedThrough = end;
    return fired;
  }

  get openWindows(): number {
    return this.panes.size;
  }

  snapshot(): MinuteWindowsSnapshot {
    return {
      firedThrough: this.firedThrough,
      panes: [...this.panes.values()].map((p) => p.snapshot()),
      arrivals: [...this.arrivals.values()].map((p) => p.snapshot()),
    };
  }

  restore(s: MinuteWindowsSnapshot): void {
    this.panes.clear();
    this.firedThrough = s.firedThrough ?? Number.NEGATIVE_INFINITY;
    for (const p of s.panes) this.panes.set(p.minute, MinutePane.restore(p));
    this.arrivals.clear();
    for (const p of s.arrivals ?? []) this.arrivals.set(p.minute, MinutePane.restore(p));
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
