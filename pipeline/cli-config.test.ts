import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveJobConfig } from './cli-config.ts';

const ports = { VT_KAFKA_PORT: '29111', VT_REDIS_PORT: '29112', VT_CLICKHOUSE_PORT: '29113' };

describe('resolveJobConfig: where the local services are', () => {
  it('before the first `infra up`, uses the ports `infra up` will use (VT_*_PORT)', () => {
    const c = resolveJobConfig({}, { VT_INFRA_DIR: mkdtempSync(join(tmpdir(), 'vt-cli-config-')), ...ports });
    expect([c.brokers, c.redis, c.clickhouse]).toEqual([['127.0.0.1:29111'], 'redis://127.0.0.1:29112', 'http://127.0.0.1:29113']);
  });

  it('afterwards, uses the addresses `infra up` wrote; flags and VT_* addresses still win', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vt-cli-config-'));
    writeFileSync(join(dir, 'infra.json'), JSON.stringify({ kafka: { brokers: ['127.0.0.1:1'] }, redis: { url: 'redis://127.0.0.1:2' }, clickhouse: { url: 'http://127.0.0.1:3' } }));
    const c = resolveJobConfig({}, { VT_INFRA_DIR: dir, ...ports });
    expect([c.brokers, c.redis, c.clickhouse]).toEqual([['127.0.0.1:1'], 'redis://127.0.0.1:2', 'http://127.0.0.1:3']);
    const d = resolveJobConfig({ redis: 'redis://h:9' }, { VT_INFRA_DIR: dir, VT_CLICKHOUSE: 'http://h:8' });
    expect([d.brokers, d.redis, d.clickhouse]).toEqual([['127.0.0.1:1'], 'redis://h:9', 'http://h:8']);
  });
});
