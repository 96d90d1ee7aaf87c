import type { BinaryWriter } from '../schemas/binary-writer.ts';
import type { ViewRecord } from './view-record.ts';
import { fit } from './typed-arrays.ts';

/**
 * Per-video increments for the live counters, gathered between two flushes: counted views and the
 * viewers' key fingerprints (for the unique-viewer HyperLogLogs), in typed arrays keyed by the
 * video's fingerprint. Written as the Redis flush's binary payload (see sinks/commit.lua).
 */
export class LiveCounts {
  private videos = 0;
  private videoIds: string[] = [];
  private videoHi = new Uint32Array(64);
  private videoLo = new Uint32Array(64);
  private views = new Uint32Array(64);
  private index = new Int32Array(128);
  private viewerCount = 0;
  private viewerVideo = new Int32Array(64);
  private viewerHi = new Uint32Array(64);
  private viewerLo = new Uint32Array(64);

  /** Videos with increments. */
  get size(): number {
    return this.videos;
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
    const mask = this.index.length - 1;
    let v = -1;
    for (let i = videoLo & mask; ; i = (i + 1) & mask) {
      v = this.index[i] - 1;
      if (v < 0) {
        v = this.newVideo(i, videoId, videoHi, videoLo);
        break;
      }
      if (this.videoLo[v] === videoLo && this.videoHi[v] === videoHi) break;
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
    return new Map(this.videoIds.slice(0, this.videos).map((id, v) => [id, this.views[v]]));
  }

  /**
   * The flush payload: per video its id (u16 length + UTF-8), views (u32), viewer count (u32) and
   * the viewers' fingerprints (8 bytes each, little-endian).
   */
  write(w: BinaryWriter): void {
    const start = new Int32Array(this.videos + 1);
    for (let v = 0; v < this.videos; v++) start[v + 1] = start[v] + this.views[v];
    const next = start.slice(0, this.videos);
    const order = new Int32Array(this.viewerCount);
    for (let k = 0; k < this.viewerCount; k++) order[next[this.viewerVideo[k]]++] = k;
    for (let v = 0; v < this.videos; v++) {
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
    this.index.fill(0);
    this.videos = 0;
    this.viewerCount = 0;
    this.videoIds.length = 0;
  }

  private newVideo(slot: number, videoId: string, videoHi: number, videoLo: number): number {
    const v = this.videos++;
    this.videoHi = fit(this.videoHi, v + 1);
    this.videoLo = fit(this.videoLo, v + 1);
    this.views = fit(this.views, v + 1);
    this.videoIds[v] = videoId;
    this.videoHi[v] = videoHi;
    this.videoLo[v] = videoLo;
    this.views[v] = 0;
    this.index[slot] = v + 1;
    if (2 * this.videos > this.index.length) this.rehash();
    return v;
  }

  private rehash(): void {
    this.index = new Int32Array(2 * this.index.length);
    const mask = this.index.length - 1;
    for (let k = 0; k < this.videos; k++) {
      let i = this.videoLo[k] & mask;
      while (this.index[i] !== 0) i = (i + 1) & mask;
      this.index[i] = k + 1;
    }
  }
}
