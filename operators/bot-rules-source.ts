import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BotRulesError, parseBotRules, type BotRules } from './bot-rules.ts';

/** The rules shipped with the job. */
export const DEFAULT_BOT_RULES_PATH = fileURLToPath(new URL('../pipeline/bot-rules.default.json', import.meta.url));

/** Reads and parses a rules file; errors name the file and the field. */
export function loadBotRules(path: string = DEFAULT_BOT_RULES_PATH): BotRules {
  return parseFile(path, readInitial(path));
}

function parseFile(path: string, text: string): BotRules {
  try {
    return parseBotRules(text);
  } catch (err) {
    if (err instanceof BotRulesError) throw new BotRulesError(err.field, `${path}: ${err.message}`, err);
    throw err;
  }
}

/** A rules file the job follows: `current()` is always the last valid version. */
export interface BotRulesWatch {
  current(): BotRules;
  /** Re-reads the file now (e.g. on SIGHUP); resolves to whether new rules took effect. */
  reload(): Promise<boolean>;
  close(): void;
}

/**
 * Loads `path` (throwing if it is invalid: a job must not start without rules) and polls it every
 * `pollMs` (stat-based polling works on every file system and survives editors that replace the
 * file). A changed file that fails to parse is reported to `onError` and the previous rules stay.
 */
export function watchBotRules(
  path: string,
  options: { onReload?: (rules: BotRules) => void; onError?: (err: Error) => void; pollMs?: number } = {},
): BotRulesWatch {
  let text = readInitial(path);
  let rules = parseFile(path, text);
  let closed = false;
  // Reads are chained so that two quick edits apply in the order they were seen.
  let chain: Promise<boolean> = Promise.resolve(false);

  const read = (): Promise<boolean> => {
    chain = chain.then(async () => {
      if (closed) return false;
      let next: string;
      try {
        next = await readFile(path, 'utf8');
      } catch (err) {
        options.onError?.(new BotRulesError('', `bot rules: cannot read ${path}: ${(err as Error).message}; keeping the previous rules`, err));
        return false;
      }
      if (closed || next === text) return false;
      text = next;
      try {
        rules = parseFile(path, next);
      } catch (err) {
        options.onError?.(err as Error);
        return false;
      }
      options.onReload?.(rules);
      return true;
    });
    return chain;
  };

  const listener = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ctimeMs === prev.ctimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
    void read();
  };
  const pollMs = options.pollMs ?? 1_000;
  watchFile(path, { interval: pollMs, persistent: false }, listener);
  // The watcher's first stat is its baseline: a change made between our read and that stat would
  // never be reported, so compare the file once more after the first poll.
  setTimeout(() => void read(), pollMs).unref();

  return {
    current: () => rules,
    reload: read,
    close: () => {
      closed = true;
      unwatchFile(path, listener);
    },
  };
}

function readInitial(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new BotRulesError('', `bot rules: cannot read ${path}: ${(err as Error).message}`, err);
  }
}
