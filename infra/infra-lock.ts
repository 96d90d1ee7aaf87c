import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InfraConfig } from './infra-paths.ts';
import { isAlive, sleep } from './processes.ts';

/** Runs `fn` holding `<run>/infra.lock` (other processes starting or stopping the same folder wait). */
export async function withLock<T>(cfg: InfraConfig, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(cfg.runDir, { recursive: true });
  const lock = join(cfg.runDir, 'infra.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      let ageMs = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
        ageMs = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // vanished: try again
      }
      const unreadable = !Number.isInteger(holder) || holder <= 0;
      // A lock whose holder died is stale; an unreadable one is stale once it is old
      // (it is written right after being created).
      if ((!unreadable && !isAlive(holder)) || (unreadable && ageMs > 5000)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`infra: ${lock} is held by process ${holder} for too long`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
