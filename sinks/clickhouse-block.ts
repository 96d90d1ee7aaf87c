import type { OutcomeRow, ViewsRow } from '../operators/minute-pane.ts';

/** One bot-rejected event as stored in `rejected_views`. */
export interface RejectedRow {
  ts: number;
  video_id: string;
  event_id: string;
  score: number;
  reasons: string[];
  ip_hash: string;
  ip_prefix: string;
  user_agent: string;
}

/**
 * Everything a partition sends ClickHouse at one checkpoint, under one deterministic token
 * derived from (group, topic, partition, offset range): re-inserting it after a crash is a no-op.
 */
export interface ClickHouseBlock {
  token: string;
  views: ViewsRow[];
  outcomes: OutcomeRow[];
  rejected: RejectedRow[];
}

/** The token of a partition's block covering offsets [from, to). */
export function blockToken(group: string, topic: string, partition: number, from: number, to: number): string {
  return `${group}/${topic}/${partition}/${from}-${to}`;
}

/** Whether a block has any rows at all. */
export function isEmptyBlock(b: ClickHouseBlock): boolean {
  return b.views.length === 0 && b.outcomes.length === 0 && b.rejected.length === 0;
}

/** A checkpoint as ClickHouse keeps a copy of it: gzipped state and block, base64. */
export interface CheckpointCopy {
  group_id: string;
  topic: string;
  partition: number;
  offset: number;
  token: string;
  /** 1 when `state` is a full snapshot, 0 when it is a delta on the previous copies. */
  full: number;
  state: string;
  block: string;
}
