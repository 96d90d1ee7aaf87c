import type { BotScorer } from '../operators/bot-scorer.ts';
import { provisionallyCounted, type AddressJoin } from '../operators/address-join.ts';
import type { HeldViewsWritten } from '../operators/provisional-views.ts';
import type { DedupStore } from '../operators/dedup-store.ts';
import { Fingerprinter } from '../operators/fingerprint.ts';
import { MinuteWindows } from '../operators/tumbling-window.ts';
import type { PartitionWatermark } from '../operators/watermark.ts';
import { BinaryReader } from '../schemas/binary-reader.ts';
import { BinaryWriter } from '../schemas/binary-writer.ts';
import { CheckpointFormatError } from '../sinks/sink-errors.ts';
import { isLegacyLink, legacyOpenWindowViews, restoreLegacyChain } from './legacy-state.ts';
import type { IpHasher } from './ip-privacy.ts';

/**
 * A partition's stored state, one link of its checkpoint chain, in binary:
 *
 *   "VTS7", u8 full (1 = snapshot, 0 = change), u32 ×2 seed check,
 *   f64 next offset, f64 max event time, u32 checkpoints,   — the head, whole in every link
 *   open windows                                            — whole in a snapshot, what each gained in a change,
 *   address verdicts read                                   — whole in every link (they are few),
 *   views held for them                                     — whole in a snapshot, those held since in a change,
 *                                                             both sealed (they hold IP addresses; see ip-privacy.ts)
 *   event-id store, session store, viewer-key tracks        — whole in a snapshot, changes in a change
 *
 * Every keyed section is the tables' entries (fingerprint, time, observations), written from the
 * typed arrays; a restore is the snapshot followed by each change, in order. Links of the releases
 * before are read as well: "VTS6" is the same but for its open windows, written whole in every link
 * as their rows (before pane changelogs); "VTS5" also has held views whose strings are all inline
 * (before shared strings), and "VTS4" also its address flags and held views per minute (before
 * verdict steps). A chain of those is followed by a snapshot of this version (`isCurrentChain`).
 */
const MAGIC = Buffer.from('VTS7');
const ROW_WINDOWS_MAGIC = Buffer.from('VTS6');
const INLINE_STRINGS_MAGIC = Buffer.from('VTS5');
const PER_MINUTE_MAGIC = Buffer.from('VTS4');
const SEED_CHECK_KEY = 'viewtally/state-seed-check';
/** Fingerprints for reading windows written as rows only to count their views: any seed groups them alike. */
const REGROUPING = new Fingerprinter('0'.repeat(32));
/** The address state of the link being written, in clear until sealed into the link: one per thread, its memory reused. */
const addressScratch = new BinaryWriter(1 << 12);

/** What a partition's state consists of, as the task holds it. */
export interface PartitionStateParts {
  nextOffset: number;
  readonly watermark: PartitionWatermark;
  readonly windows: MinuteWindows;
  readonly eventIds: DedupStore;
  readonly sessions: DedupStore;
  readonly bots: BotScorer;
  readonly address: AddressJoin;
  readonly fingerprints: Fingerprinter;
  readonly hasher: IpHasher;
}

/** The head of a stored link: where the partition is. */
export interface StateHead {
  full: boolean;
  nextOffset: number;
  /** Latest event time seen, -Infinity before the first. */
  maxEventTs: number;
  checkpoints: number;
}

/** Writes a link into `w`: a snapshot (`full`) or the change since the last link, which it marks; returns the link (a view of `w`). */
export function writePartitionState(s: PartitionStateParts, full: boolean, checkpoints: number, w: BinaryWriter): Buffer {
  w.bytes(MAGIC);
  w.u8(full ? 1 : 0);
  s.fingerprints.string(SEED_CHECK_KEY);
  w.u32(s.fingerprints.hi);
  w.u32(s.fingerprints.lo);
  w.f64(s.nextOffset);
  w.f64(s.watermark.maxEventTs);
  w.u32(checkpoints);
  s.windows.write(w, !full);
  const address = addressScratch;
  address.reset();
  s.address.write(address, !full);
  s.hasher.seal(address.view(), w);
  s.eventIds.write(w, !full);
  s.sessions.write(w, !full);
  s.bots.write(w, !full);
  return w.view();
}

/** Reads the head of a link without its tables (for status and tools); null for a link of viewtally 0.1. */
export function readStateHead(link: Buffer): StateHead | null {
  if (isLegacyLink(link)) return null;
  const r = openLink(link, 0);
  const full = r.u8() === 1;
  r.u32();
  r.u32();
  return { full, nextOffset: r.f64(), maxEventTs: r.f64(), checkpoints: r.u32() };
}

/**
 * Counted views per video a chain holds that are not in ClickHouse yet (for reconcile), read without
 * the tables: those of the open windows (read from every link), and the views counted
 * provisionally and not flagged so far (held views, gathered from every link), with the provisional
 * ledger of those (what reconcile --fix puts back, so a later flag still takes them back).
 */
export function openWindowViews(chain: readonly Buffer[], hasher: IpHasher): { views: Map<string, number>; ledger: Buffer } {
  const newest = chain[chain.length - 1];
  if (isLegacyLink(newest)) return { views: legacyOpenWindowViews(newest), ledger: Buffer.alloc(0) };
  const windows = new MinuteWindows();
  const addressStates = chain.map((link, i) => {
    const r = openLink(link, i);
    r.bytes(1 + 8 + 8 + 8 + 4);
    readWindows(windows, r, link, i === 0, REGROUPING);
    return { state: new BinaryReader(openSealed(hasher, r.bytes(r.u32()), i)), written: heldViewsWritten(link) };
  });
  const views = windows.countViews();
  const held = provisionallyCounted(addressStates);
  for (const [video, n] of held.views) views.set(video, (views.get(video) ?? 0) + n);
  return { views, ledger: held.ledger };
}

/** Restores a chain (a snapshot, then changes) into the parts; returns the newest head. */
export function readPartitionState(s: PartitionStateParts, chain: readonly Buffer[]): StateHead {
  if (chain.length === 0) throw new CheckpointFormatError('a checkpoint chain must start with a full snapshot (it is empty)');
  if (isLegacyLink(chain[0])) return restoreLegacyChain(s, chain);
  s.fingerprints.string(SEED_CHECK_KEY);
  const seedHi = s.fingerprints.hi;
  const seedLo = s.fingerprints.lo;
  let head: StateHead | null = null;
  chain.forEach((link, i) => {
    const r = openLink(link, i);
    const full = r.u8() === 1;
    if (full !== (i === 0)) {
      throw new CheckpointFormatError(i === 0 ? 'a checkpoint chain must start with a full snapshot' : `a full snapshot in the middle of a checkpoint chain (link ${i})`);
    }
    if (r.u32() !== seedHi || r.u32() !== seedLo) {
      throw new CheckpointFormatError(
        'this checkpoint was written under another state seed (VT_STATE_SEED / stateSeed): keys are stored as seeded fingerprints, so start the job with the seed the checkpoint was written with',
      );
    }
    head = { full, nextOffset: r.f64(), maxEventTs: r.f64(), checkpoints: r.u32() };
    readWindows(s.windows, r, link, full, s.fingerprints);
    const address = new BinaryReader(openSealed(s.hasher, r.bytes(r.u32()), i));
    s.address.read(address, full, heldViewsWritten(link));
    if (address.remaining !== 0) throw new CheckpointFormatError(`checkpoint link ${i} has ${address.remaining} bytes after its address state`);
    s.eventIds.read(r, full);
    s.sessions.read(r, full);
    s.bots.read(r, full);
    if (r.remaining !== 0) throw new CheckpointFormatError(`checkpoint link ${i} has ${r.remaining} bytes after its state`);
  });
  s.nextOffset = head!.nextOffset;
  s.watermark.maxEventTs = head!.maxEventTs;
  return head!;
}

/** The sealed address state of link `i`, opened; the error says which secret it needs. */
function openSealed(hasher: IpHasher, sealed: Buffer, i: number): Buffer {
  try {
    return hasher.open(sealed);
  } catch (err) {
    throw new CheckpointFormatError(`checkpoint link ${i}: its address state was sealed under another IP hash secret; start the job with the VT_IP_HASH_SECRET it was written with`, { cause: err });
  }
}

/** Reads a link's open windows: as this version writes them, or as rows whole in the link (before VTS7). */
function readWindows(windows: MinuteWindows, r: BinaryReader, link: Buffer, full: boolean, fp: Fingerprinter): void {
  if (link.subarray(0, MAGIC.length).equals(MAGIC)) windows.read(r, full);
  else windows.readRows(r, fp);
}

/** How a link's address state was written: as this version does, or one of the two ways before. */
function heldViewsWritten(link: Buffer): HeldViewsWritten {
  const magic = link.subarray(0, MAGIC.length);
  if (magic.equals(PER_MINUTE_MAGIC)) return { perMinute: true, inlineStrings: true };
  return { inlineStrings: magic.equals(INLINE_STRINGS_MAGIC) };
}

/**
 * Whether later links may extend a stored chain: only one this version wrote. The held views of an
 * earlier one are rewritten as they are read, so a change written after them would continue bytes
 * that no stored link holds.
 */
export function isCurrentChain(chain: readonly Buffer[]): boolean {
  return chain.length > 0 && chain[0].subarray(0, MAGIC.length).equals(MAGIC);
}

function openLink(link: Buffer, i: number): BinaryReader {
  if (isLegacyLink(link)) throw new CheckpointFormatError(`checkpoint link ${i} is in the JSON format of viewtally 0.1 after binary links: the chain is mixed`);
  const magic = link.subarray(0, MAGIC.length);
  if (![MAGIC, ROW_WINDOWS_MAGIC, INLINE_STRINGS_MAGIC, PER_MINUTE_MAGIC].some((m) => magic.equals(m))) {
    throw new CheckpointFormatError(`checkpoint link ${i} is not viewtally binary state of this version (${MAGIC}); it starts with ${JSON.stringify(link.subarray(0, MAGIC.length).toString('latin1'))}`);
  }
  const r = new BinaryReader(link);
  r.bytes(MAGIC.length);
  return r;
}
