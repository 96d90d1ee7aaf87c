import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BOT_RULES_PATH, loadBotRules, watchBotRules, type BotRulesWatch } from './bot-rules-source.ts';
import { BotRulesError, type BotRules } from './bot-rules.ts';

const defaults = () => JSON.parse(readFileSync(DEFAULT_BOT_RULES_PATH, 'utf8')) as Record<string, any>;

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the rules file to be picked up');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watchBotRules', () => {
  let dir: string;
  let path: string;
  let watch: BotRulesWatch | null = null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bot-rules-'));
    path = join(dir, 'rules.json');
    writeFileSync(path, JSON.stringify(defaults()));
  });

  afterEach(() => {
    watch?.close();
    watch = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up a changed file without a restart', async () => {
    const reloads: BotRules[] = [];
    watch = watchBotRules(path, { pollMs: 20, onReload: (r) => reloads.push(r) });
    expect(watch.current().config.threshold).toBe(1);
    writeFileSync(path, JSON.stringify({ ...defaults(), threshold: 0.5 }));
    await until(() => watch!.current().config.threshold === 0.5);
    expect(reloads).toHaveLength(1);
    expect(reloads[0]).toBe(watch.current());
  });

  it('follows an editor that replaces the file (write elsewhere, rename over it)', async () => {
    watch = watchBotRules(path, { pollMs: 20 });
    const next = join(dir, 'rules.json.tmp');
    writeFileSync(next, JSON.stringify({ ...defaults(), version: 'replaced' }));
    renameSync(next, path);
    await until(() => watch!.current().config.version === 'replaced');
  });

  it('keeps the previous rules and reports the error when the new file is invalid', async () => {
    const errors: Error[] = [];
    watch = watchBotRules(path, { pollMs: 20, onError: (e) => errors.push(e) });
    const before = watch.current();
    writeFileSync(path, JSON.stringify({ ...defaults(), threshold: -1 }));
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(BotRulesError);
    expect(errors[0].message).toContain(path);
    expect((errors[0] as BotRulesError).field).toBe('threshold');
    expect(watch.current()).toBe(before);
    // A half-written file is an error too; the next complete write takes effect.
    writeFileSync(path, '{"threshold": 0.7, "weig');
    await until(() => errors.length === 2);
    writeFileSync(path, JSON.stringify({ ...defaults(), threshold: 0.7 }));
    await until(() => watch!.current().config.threshold === 0.7);
  });

  it('keeps the rules when the file disappears', async () => {
    const errors: Error[] = [];
    watch = watchBotRules(path, { pollMs: 20, onError: (e) => errors.push(e) });
    const before = watch.current();
    rmSync(path);
    await until(() => errors.length > 0);
    expect(errors[0].message).toMatch(/cannot read/);
    expect(watch.current()).toBe(before);
  });

  it('reloads on demand, and stops following the file once closed', async () => {
    watch = watchBotRules(path, { pollMs: 20 });
    writeFileSync(path, JSON.stringify({ ...defaults(), threshold: 2 }));
    expect(await watch.reload()).toBe(true);
    expect(watch.current().config.threshold).toBe(2);
    expect(await watch.reload()).toBe(false);
    watch.close();
    writeFileSync(path, JSON.stringify({ ...defaults(), threshold: 3 }));
    await new Promise((r) => setTimeout(r, 150));
    expect(watch.current().config.threshold).toBe(2);
  });

  it('refuses to start on a missing or invalid file', () => {
    expect(() => watchBotRules(join(dir, 'missing.json'))).toThrow(/cannot read/);
    writeFileSync(path, JSON.stringify({ ...defaults(), weights: {} }));
    expect(() => watchBotRules(path)).toThrow(BotRulesError);
    expect(() => loadBotRules(path)).toThrow(/weights\.ua_bot: missing/);
  });
});
