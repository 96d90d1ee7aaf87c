// Loads the CLI's TypeScript modules for bin/viewtally.mjs and its worker threads: compiled once
// per change of the sources into .viewtally/cache/cli-build/<stamp>/ (esbuild: modules bundled,
// packages left to node_modules), else through tsx. Compiled, a process and each job thread load
// the CLI in about half the CPU; no build step stands between a checkout and a running job, and an
// edited source makes a new stamp, so what runs is always what is checked out.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the CLI's modules live; the tests' files are never imported by it. */
const SOURCE_DIRS = ['api', 'bench', 'clickhouse', 'infra', 'operators', 'pipeline', 'schemas', 'sinks'];
/** Every module a process or thread starts from. */
const ENTRY_POINTS = ['pipeline/stop-request.ts', 'pipeline/cli.ts', 'pipeline/job-worker.ts'];
/** How long a build outlives its sources: a process may still load modules lazily from the build it started on. */
const KEEP_OLD_BUILDS_MS = 7 * 24 * 3_600_000;

/** Imports each of `modules` (paths from the repository root, in order), compiled when it can be. */
export async function loadTypeScript(...modules) {
  const build = await compiledBuild(ROOT);
  if (build === null) {
    const { register } = await import('tsx/esm/api');
    register();
    for (const m of modules) await import(pathToFileURL(join(ROOT, m)).href);
    return;
  }
  process.setSourceMapsEnabled(true); // stack traces name the TypeScript sources
  for (const m of modules) await import(pathToFileURL(join(build, m.replace(/\.ts$/, '.js'))).href);
}

/**
 * The folder of the build of `root`'s sources as they are now, made if missing; null when esbuild
 * cannot build them (tsx then says why).
 */
export async function compiledBuild(root) {
  const builds = join(root, '.viewtally', 'cache', 'cli-build');
  const dir = join(builds, sourceStamp(root));
  if (existsSync(join(dir, 'pipeline', 'cli.js'))) return dir;
  const tmp = `${dir}.${process.pid}.tmp`;
  try {
    await buildInto(root, tmp);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process made it first
    }
    removeOldBuilds(builds, dir);
    return dir;
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    return null;
  }
}

/** A hash of every source file's path, size and modification time, and of this loader. */
function sourceStamp(root) {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        const s = statSync(path);
        hash.update(`${relative(root, path)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(join(root, d))) walk(join(root, d));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Bundles the entry points with shared chunks, so a process holds one instance of each module.
 * Each module keeps its own `import.meta.url`, so the files it reads beside itself (the Avro
 * schema, the Lua script, the migrations) are found where they are.
 */
async function buildInto(root, outdir) {
  const { build } = await import('esbuild');
  await build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    outdir,
    outbase: root,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'silent',
    plugins: [keepModuleUrls],
  });
}

const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
      loader: 'ts',
    }));
  },
};

/** Removes the builds of sources older than {@link KEEP_OLD_BUILDS_MS}. */
function removeOldBuilds(builds, current) {
  for (const name of readdirSync(builds)) {
    const path = join(builds, name);
    if (path !== current && Date.now() - statSync(path).mtimeMs > KEEP_OLD_BUILDS_MS) rmSync(path, { recursive: true, force: true });
  }
}
