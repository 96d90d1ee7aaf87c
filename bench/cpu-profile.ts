import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../infra/infra-paths.ts';

/** One row of a profile summary: a function, a file or a package, with its share of the samples. */
export interface HotSpot {
  name: string;
  /** Time spent in it (self) or under it (total), ms, and as a share of the profiled time. */
  ms: number;
  share: number;
}

/** The hot spots of a V8 `.cpuprofile` (`node --cpu-prof`). */
export interface ProfileSummary {
  file: string;
  /** Sampled wall time of the thread, and the part where it was not idle. */
  sampledMs: number;
  busyMs: number;
  /** Functions by self time. */
  selfTop: HotSpot[];
  /** Functions by total time (self + callees), each function counted once per sample. */
  totalTop: HotSpot[];
  /** Self time by package (node_modules) or project file, plus GC, idle and native/program time. */
  byPlace: HotSpot[];
  /** Busy time spent for each group of project files (see {@link ProfileGroup}). */
  groups: HotSpot[];
}

/**
 * A part of the program by its project files (paths from the repository root). A sample is the
 * group's when, walking its stack from the leaf, the first frame in a file `include` or `exclude`
 * matches is one `include` matches: code the group calls counts for it (helpers, packages, native),
 * but not what it hands back to `exclude` (work that would be done without the group).
 */
export interface ProfileGroup {
  include: RegExp;
  exclude?: RegExp;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, a project file, or one of V8's pseudo-frames. */
function placeOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (path.startsWith('node:')) return path;
  return relative(REPO_ROOT, path);
}

/**
 * A frame as its TypeScript source names it: the CLI runs compiled into chunks with source maps
 * beside them (bin/load-typescript.mjs), which the profile knows nothing of.
 */
function sourceFrame(frame: CpuProfileNode['callFrame'], maps: Map<string, SourceMap | null>): CpuProfileNode['callFrame'] {
  const path = frame.url.replace(/^file:\/\//, '');
  if (!path.endsWith('.js')) return frame;
  if (!maps.has(path)) maps.set(path, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null);
  const entry = maps.get(path)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (!entry || !('originalSource' in entry)) return frame;
  return { ...frame, url: `file://${resolve(dirname(path), entry.originalSource)}`, lineNumber: entry.originalLine };
}

function frameName(n: CpuProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  if (url === '') return functionName || '(anonymous)';
  // Files run through tsx report line 0 (positions in the transformed code): name the file only.
  return `${functionName || '(anonymous)'} ${placeOf(url, functionName)}${lineNumber > 0 ? `:${lineNumber + 1}` : ''}`;
}

/** Summarises a `.cpuprofile`: the `top` functions by self and total time, self time by place, and the busy time of each of `groups`. */
export function summariseProfile(file: string, top = 15, groups: Record<string, ProfileGroup> = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  const maps = new Map<string, SourceMap | null>();
  for (const n of profile.nodes) {
    n.callFrame = sourceFrame(n.callFrame, maps);
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const place = new Map<string, number>();
  const grouped = new Map<string, number>(Object.keys(groups).map((g) => [g, 0]));
  let sampledUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    // A sample's delta is the time until the next sample, i.e. time spent where the sample was taken.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(id)!;
    sampledUs += dt;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += dt;
      return;
    }
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    const p = placeOf(node.callFrame.url, node.callFrame.functionName);
    place.set(p, (place.get(p) ?? 0) + dt);
    const seen = new Set<string>();
    const decided = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)!;
      if (n.callFrame.functionName === '(root)') break;
      const framePlace = placeOf(n.callFrame.url, n.callFrame.functionName);
      for (const g in groups) {
        if (decided.has(g)) continue;
        if (groups[g].include.test(framePlace)) {
          decided.add(g);
          grouped.set(g, grouped.get(g)! + dt);
        } else if (groups[g].exclude?.test(framePlace)) decided.add(g);
      }
      const fn = frameName(n);
      if (seen.has(fn)) continue;
      seen.add(fn);
      total.set(fn, (total.get(fn) ?? 0) + dt);
    }
  });
  const busyUs = sampledUs - idleUs;
  const rows = (m: Map<string, number>, n: number): HotSpot[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 1000 : 0 }));
  return {
    file: relative(REPO_ROOT, file),
    sampledMs: Math.round(sampledUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    selfTop: rows(self, top),
    totalTop: rows(total, top + 10),
    byPlace: rows(place, top),
    groups: rows(grouped, grouped.size),
  };
}
