import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { benchCacheDir, spawnBenchScript } from './bench-load.ts';

/** A bench script running as a process of its own, its JSON lines handed to `onJson` as they come. */
export interface BenchChild {
  pid: number;
  /** Resolves with the last JSON line once the process exits 0; rejects otherwise. */
  done: Promise<Record<string, unknown>>;
  /** Asks the process to stop (SIGTERM). */
  stop(): void;
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  /** Names the log file (stderr) under the bench cache. */
  name: string;
  /** Arguments as they are; default one argument, `args` as JSON. */
  rawArgs?: string[];
  nodeArgs?: string[];
  /** Environment variables set for the child, over this process's. */
  env?: NodeJS.ProcessEnv;
  onJson?: (line: Record<string, unknown>) => void;
  onLine?: (line: string) => void;
}

/** Starts `script` with `args` (as JSON); its stderr goes to a log file under the bench cache (named in errors). */
export function startChild(script: string, args: unknown, options: ChildOptions): BenchChild {
  const logDir = join(benchCacheDir(), 'logs');
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `${options.name}.log`);
  const log = createWriteStream(logPath);
  const child = spawnBenchScript(script, options.rawArgs ?? [JSON.stringify(args)], { nodeArgs: options.nodeArgs, env: options.env });
  child.stderr!.pipe(log);
  let last: Record<string, unknown> | null = null;
  let pending = '';
  child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      options.onLine?.(line);
      if (!line.startsWith('{')) continue;
      try {
        last = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      options.onJson?.(last);
    }
  });
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      log.end();
      if (code === 0 && (last !== null || options.onLine)) resolve(last ?? {});
      else reject(new Error(`${options.name} (${script}) exited ${code ?? signal}; its log: ${logPath}`));
    });
  });
  return { pid: child.pid!, done, stop: () => child.kill('SIGTERM') };
}
