import type { ViewRecord } from './view-record.ts';

/** Counted views and viewer keys of one video since the last live flush. */
export interface LiveCount {
  views: number;
  viewers: string[];
}

/** Per-video increments for the live counters, gathered between two flushes. */
export class LiveCounts {
  readonly videos = new Map<string, LiveCount>();

  /** Adds a counted record. */
  add(r: ViewRecord): void {
    const id = r.event!.video_id;
    const c = this.videos.get(id);
    if (c) {
      c.views++;
      c.viewers.push(r.viewerKey);
    } else {
      this.videos.set(id, { views: 1, viewers: [r.viewerKey] });
    }
  }

  get size(): number {
    return this.videos.size;
  }
}
