/**
 * `viewtally produce` as a newcomer uses it: rejected lines are listed with their numbers and make
 * the command fail, unless `--allow-rejected` says they are expected.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { localConfig, uniqueName } from './harness.ts';

const ROOT = new URL('..', import.meta.url).pathname;

const event = (id: string) => ({
  event_id: id,
  event_type: 'view',
  video_id: 'v-produce',
  channel_id: 'c1',
  category: 'music',
  viewer_id: null,
  owner_id: null,
  session_id: `s-${id}`,
  ts: Date.now(),
  watch_ms: 40_000,
  video_duration_ms: null,
  country: 'FR',
  device: 'mobile',
  traffic_source: 'search',
  ip: '192.0.2.1',
  user_agent: 'Mozilla/5.0',
  ja3: null,
});

const input = [JSON.stringify(event('e1')), '{"event_id": "broken"', JSON.stringify(event('e2')), JSON.stringify({ ...event('e3'), watch_ms: -1 })].join('\n');

function produce(topic: string, ...flags: string[]) {
  return spawnSync(process.execPath, ['bin/viewtally.mjs', 'produce', '--topic', topic, ...flags], { cwd: ROOT, input, encoding: 'utf8', timeout: 120_000 });
}

async function messagesIn(topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'test', brokers: localConfig().brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('viewtally produce', () => {
  it('sends the valid lines, lists the rejected ones by number, and exits 1', async () => {
    const topic = uniqueName('produce-rejects');
    const r = produce(topic);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout.trim())).toEqual({ sent: 2, rejected: 2 });
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^line 2: /);
    expect(lines[1]).toMatch(/^line 4: .*watch_ms/);
    expect(lines[2]).toBe('viewtally: 2 line(s) rejected, 2 sent; --allow-rejected exits 0 when that is expected');
    expect(lines).toHaveLength(3);
    expect(await messagesIn(topic)).toBe(2);
  });

  it('exits 0 with --allow-rejected', async () => {
    const topic = uniqueName('produce-allowed');
    const r = produce(topic, '--allow-rejected');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ sent: 2, rejected: 2 });
    expect(await messagesIn(topic)).toBe(2);
  });
});
