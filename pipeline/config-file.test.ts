import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides, loadConfigFile } from './config-file.ts';
import { resolveJobConfig } from './cli-config.ts';
import { defaultJobConfig } from './config.ts';

const file = (content: unknown) => {
  const path = join(mkdtempSync(join(tmpdir(), 'vt-config-')), 'config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

describe('config file', () => {
  it('applies known settings, grouped ones key by key', () => {
    const c = applyOverrides(defaultJobConfig(), loadConfigFile(file({ topic: 't', view: { sessionWindowMs: 60_000 }, brokers: ['h:1'] })));
    expect(c.topic).toBe('t');
    expect(c.brokers).toEqual(['h:1']);
    expect(c.view.sessionWindowMs).toBe(60_000);
    expect(c.view.minWatchMs).toBe(30_000);
  });

  it('names an unknown key with its path', () => {
    expect(() => loadConfigFile(file({ view: { sessionWindow: 1 } }))).toThrow(/unknown setting view\.sessionWindow/);
    expect(() => loadConfigFile(file({ topik: 'x' }))).toThrow(/unknown setting topik/);
  });

  it('names a wrong type with its path', () => {
    expect(() => loadConfigFile(file({ time: { maxLatenessMs: '7d' } }))).toThrow(/time\.maxLatenessMs must be a non-negative number/);
    expect(() => loadConfigFile(file({ brokers: 'h:1' }))).toThrow(/brokers must be an array/);
    expect(() => loadConfigFile(file('{not json'))).toThrow(/config file/);
  });

  it('lets env and flags win over the file', () => {
    const path = file({ topic: 'from-file', group: 'from-file' });
    const c = resolveJobConfig({ config: path, group: 'from-flag' }, { VT_TOPIC: 'from-env' });
    expect([c.topic, c.group]).toEqual(['from-env', 'from-flag']);
  });
});
