import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseError } from '@clickhouse/client';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { errorLines } from './cli-errors.ts';
import { freePort } from '../infra/free-port.ts';
import { REPO_ROOT } from '../infra/infra-paths.ts';

const known = { brokers: ['127.0.0.1:39092'], redis: 'redis://127.0.0.1:36379', clickhouse: 'http://127.0.0.1:38123' };
const refused = (port: number) => Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED', address: '127.0.0.1', port });

describe('errorLines', () => {
  const errorLine = (err: unknown, k?: typeof known) => {
    const lines = errorLines(err, k);
    expect(lines).toHaveLength(1);
    return lines[0];
  };

  it('names the service that does not answer and says how to start the local ones', () => {
    expect(errorLine(refused(38123), known)).toBe(
      'cannot reach ClickHouse at 127.0.0.1:38123 (ECONNREFUSED); start the local services with `viewtally infra up` (`viewtally infra status` shows what runs)',
    );
    expect(errorLine(refused(36379), known)).toMatch(/^cannot reach Redis at 127\.0\.0\.1:36379 \(ECONNREFUSED\); .*viewtally infra up/);
    const kafka = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:39092', { broker: '127.0.0.1:39092' } as never), { retryCount: 5, retryTime: 100 });
    expect(errorLine(kafka, known)).toMatch(/^cannot reach Kafka at 127\.0\.0\.1:39092 .*viewtally infra up/);
    expect(errorLine(refused(1), undefined)).toMatch(/^cannot reach a service at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });

  it('makes one line of a multi-line engine error, and says what a missing topic means', () => {
    const long = new ClickHouseError({ message: `Syntax error: failed at position 7\nFORMAT JSONEachRow. Expected one of: ${'token, '.repeat(100)}end`, code: '62', type: 'SYNTAX_ERROR' });
    const line = errorLine(long, known);
    expect(line).toMatch(/^ClickHouse: Syntax error: failed at position 7 FORMAT JSONEachRow\. Expected one of: token, /);
    expect(line).not.toContain('\n');
    expect(line.length).toBeLessThanOrEqual(320);
    expect(errorLine(new KafkaJSProtocolError({ message: 'This server does not host this topic-partition', type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true } as never), known)).toMatch(
      /the topic does not exist .*viewtally produce/,
    );
    expect(errorLine(new Error('--port must be an integer in 0..65535, got "x"'))).toBe('--port must be an integer in 0..65535, got "x"');
  });

  it('gives one line per failure of a message holding several, without the log tails under them', () => {
    const infra = new Error('infra: kafka exited before it answered; see /x/logs/kafka.log\n[2026] ERROR boom\n  at a.b\n\ninfra: cannot start redis: port 127.0.0.1:1 is used by another process');
    expect(errorLines(infra)).toEqual(['infra: kafka exited before it answered; see /x/logs/kafka.log', 'infra: cannot start redis: port 127.0.0.1:1 is used by another process']);
  });
});

describe('a command whose service is down', () => {
  it('prints one line with the hint, no client log, and exits 1', async () => {
    const port = await freePort();
    const r = spawnSync(process.execPath, ['bin/viewtally.mjs', 'sql', 'SELECT 1', '--clickhouse', `http://127.0.0.1:${port}`], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, VT_INFRA_DIR: mkdtempSync(join(tmpdir(), 'vt-cli-errors-')) },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([`viewtally: cannot reach ClickHouse at 127.0.0.1:${port} (ECONNREFUSED); start the local services with \`viewtally infra up\` (\`viewtally infra status\` shows what runs)`]);
  });

  it('prints one line for a wrong query too (embedded engine, so no server is needed)', () => {
    const r = spawnSync(process.execPath, ['bin/viewtally.mjs', 'sql', 'SELEC 1', '--clickhouse', `embedded:${mkdtempSync(join(tmpdir(), 'vt-cli-errors-'))}`], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^viewtally: ClickHouse: Syntax error/);
  });
});
