import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../infra/infra-paths.ts';

const devDependencies = Object.keys((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies);

/** Every module URL a node process resolves while running `args`, recorded by a resolve hook. */
function resolvedModules(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'vt-cli-deps-'));
  try {
    const log = join(dir, 'resolved.txt');
    writeFileSync(log, '');
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, r.url + '\\n');
  return r;
}
`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { log: ${JSON.stringify(log)} } });\n`);
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fromDevDependency = (urls: string[]) => devDependencies.filter((d) => urls.some((u) => u.includes(`/node_modules/${d}/`)));

describe('the CLI at run time', () => {
  it('loads no dev-dependency for `viewtally run`, and the hook does see one when the bench harness is loaded', () => {
    // the CLI, then what its run action loads when it runs (the job threads, each thread's job, the API of --serve)
    const run = [
      ...resolvedModules(['bin/viewtally.mjs', 'run', '--help']),
      ...resolvedModules(['--import', 'tsx', '-e', "await import('./pipeline/job-threads.ts'); await import('./pipeline/job.ts'); await import('./pipeline/start-api.ts')"]),
    ];
    expect(run.some((u) => /\/pipeline\/cli\.(ts|js)$/.test(u))).toBe(true); // the source, or its build (bin/load-typescript.mjs)
    expect(run.some((u) => u.endsWith('/pipeline/job.ts'))).toBe(true);
    expect(fromDevDependency(run)).toEqual([]);

    const bench = resolvedModules(['--import', 'tsx', '-e', "await import('./bench/bench-harness.ts')"]);
    expect(fromDevDependency(bench)).toContain('@platformatic/kafka');
  });
});
