import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { BinaryReader } from '../schemas/binary-reader.ts';
import type { ViewRecord } from './view-record.ts';
import { fit } from './typed-arrays.ts';
import { CellIndex, groupByCell } from './cell-index.ts';

/**
 * Per-video increments for the live counters, gathered between two flushes: counted views and the
 * viewers' key fingerprints (for the unique-viewer HyperLogLogs), in typed arrays keyed by the
 * video's fingerprint (cell-index.ts). Written as the Redis flush's binary payload (see sinks/commit.lua).
 */
export class LiveCounts {
  private readonly videos = new CellIndex();
  private videoIds: string[] = [];
  private views = new Uint32Array(64);
  private viewerCount = 0;
  private viewerVideo = new Int32Array(64);
  private viewerHi = new Uint32Array(64);
  private viewerLo = new Uint32Array(64);

  /** Videos with increments. */
  get size(): number {
    return this.videos.size;
  }

  /** Counted views gathered. */
  get events(): number {
    return this.viewerCount;
  }

  /** Adds a counted record. */
  add(r: ViewRecord): void {
    this.addView(r.event!.video_id, r.videoHi, r.videoLo, r.viewerHi, r.viewerLo);
  }

  /** Adds one counted view of a video by a viewer (fingerprints of the video id and the viewer key). */
  addView(videoId: string, videoHi: number, videoLo: number, viewerHi: number, viewerLo: number): void {
    let v = this.videos.find(videoHi, videoLo, 0);
    if (v < 0) {
      v = this.videos.add(videoHi, videoLo, 0);
      this.views = fit(this.views, v + 1);
      this.videoIds[v] = videoId;
      this.views[v] = 0;
    }
    this.views[v]++;
    const k = this.viewerCount++;
    this.viewerVideo = fit(this.viewerVideo, k + 1);
    this.viewerHi = fit(this.viewerHi, k + 1);
    this.viewerLo = fit(this.viewerLo, k + 1);
    this.viewerVideo[k] = v;
    this.viewerHi[k] = viewerHi;
    this.viewerLo[k] = viewerLo;
  }

  /** Each video's views (for tests and tools). */
  counts(): Map<string, number> {
    return new Map(this.videoIds.slice(0, this.videos.size).map((id, v) => [id, this.views[v]]));
  }

  /**
   * The flush payload: per video its id (u16 length + UTF-8), views (u32), viewer count (u32) and
   * the viewers' fingerprints (8 bytes each, little-endian).
   */
  write(w: BinaryWriter): void {
    const videos = this.videos.size;
    const { start, order } = groupByCell(this.viewerVideo, this.viewerCount, this.views, videos);
    for (let v = 0; v < videos; v++) {
      const id = Buffer.from(this.videoIds[v]);
      w.u16(id.length);
      w.bytes(id);
      w.u32(this.views[v]);
      w.u32(this.views[v]);
      for (let k = start[v]; k < start[v + 1]; k++) {
        w.u32(this.viewerLo[order[k]]);
        w.u32(this.viewerHi[order[k]]);
      }
    }
  }

  /** Forgets everything gathered, keeping the memory. */
  clear(): void {
    this.videos.clear();
    this.viewerCount = 0;
    this.videoIds.length = 0;
  }
}

/** Reads a flush payload written by {@link LiveCounts.write}: each video's id and its viewers' fingerprints (8 bytes each). */
export function readLivePayload(payload: Buffer, onVideo: (videoId: string, viewers: Buffer[]) => void): void {
  const r = new BinaryReader(payload);
  while (r.remaining > 0) {
    const id = r.bytes(r.u16()).toString('utf8');
    r.u32(); // views
    const n = r.u32();
    const viewers: Buffer[] = [];
    for (let i = 0; i < n; i++) viewers.push(r.bytes(8));
    onVideo(id, viewers);
  }
}
