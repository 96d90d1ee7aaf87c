import type { Outcome } from '../schemas/view-event.ts';
import type { ViewRecord } from './view-record.ts';

/** Counted views of one minute and one combination of dimensions. */
export interface ViewsRow {
  minute: number;
  video_id: string;
  channel_id: string;
  category: string;
  country: string;
  device: string;
  traffic_source: string;
  views: number;
  /** Viewer keys of the counted views; the sink turns them into a unique-viewer state. */
  viewers: string[];
}

/** Events of one minute, video and outcome. */
export interface OutcomeRow {
  minute: number;
  video_id: string;
  outcome: Outcome;
  events: number;
}

/** The aggregate of one minute window of one partition: views by dimensions and events by outcome. */
export class MinutePane {
  readonly minute: number;
  readonly views = new Map<string, ViewsRow>();
  readonly outcomes = new Map<string, OutcomeRow>();

  constructor(minute: number) {
    this.minute = minute;
  }

  /** Adds a classified record: every record to its outcome, counted ones to the views. */
  add(r: ViewRecord): void {
    const videoId = r.event?.video_id ?? '';
    const outcome = r.outcome!;
    const ok = videoId + '\u0001' + outcome;
    const o = this.outcomes.get(ok);
    if (o) o.events++;
    else this.outcomes.set(ok, { minute: this.minute, video_id: videoId, outcome, events: 1 });
    if (outcome !== 'counted') return;
    const e = r.event!;
    const vk = videoId + '\u0001' + e.channel_id + '\u0001' + e.category + '\u0001' + e.country + '\u0001' + e.device + '\u0001' + e.traffic_source;
    const v = this.views.get(vk);
    if (v) {
      v.views++;
      v.viewers.push(r.viewerKey);
    } else {
      this.views.set(vk, {
        minute: this.minute,
        video_id: videoId,
        channel_id: e.channel_id,
        category: e.category,
        country: e.country,
        device: e.device,
        traffic_source: e.traffic_source,
        views: 1,
        viewers: [r.viewerKey],
      });
    }
  }

  /** Plain data for a checkpoint. */
  snapshot(): { minute: number; views: ViewsRow[]; outcomes: OutcomeRow[] } {
    return { minute: this.minute, views: [...this.views.values()], outcomes: [...this.outcomes.values()] };
  }

  static restore(s: { minute: number; views: ViewsRow[]; outcomes: OutcomeRow[] }): MinutePane {
    const pane = new MinutePane(s.minute);
    for (const v of s.views) {
      pane.views.set(v.video_id + '\u0001' + v.channel_id + '\u0001' + v.category + '\u0001' + v.country + '\u0001' + v.device + '\u0001' + v.traffic_source, v);
    }
    for (const o of s.outcomes) pane.outcomes.set(o.video_id + '\u0001' + o.outcome, o);
    return pane;
  }
}
