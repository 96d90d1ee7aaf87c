import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressKey, MINUTE, sourceMessages, STEP, T0, type SourceView } from '../operators/address-fixtures.ts';
import { AddressVerdicts } from '../operators/address-verdicts.ts';
import { rulesWith } from '../operators/bot-scorer-fixtures.ts';
import { VerdictMessage } from '../schemas/address-messages.ts';
import { stepOf } from '../schemas/verdict-step.ts';
import { AddressTask } from './address-task.ts';

const FARM = 1;
const rules = rulesWith();

/** A one-source, one-address-partition task, as the address stage claims it. */
function task(): AddressTask {
  return new AddressTask({ partition: 0, progressKey: 'k', epoch: 1, sourcePartitions: 1, rules: () => rules, checkpointOffset: 0 });
}

/** The flags of verdict messages, as `<verdict step offset from T0>:<signals>`. */
function flags(messages: (Buffer | null)[]): Set<string> {
  const v = new VerdictMessage();
  const out = new Set<string>();
  for (const m of messages) {
    if (m === null) continue;
    v.load(m);
    for (let i = 0; i < v.count; i++) out.add(`${(v.start(i) - T0) / STEP}:${v.signals(i)}`);
  }
  return out;
}

// A checkpoint of the address stage stores a state that has judged some steps; their flags must
// have gone out with it or before. The stage reads on while a checkpoint's verdicts are being sent:
// what it judges meanwhile belongs to the next checkpoint, and a crash before that one re-judges it.
describe('address task checkpoint', () => {
  // a farm address, 80 views a minute for 12 minutes, one flush (by-address message) every 20 views
  const views: SourceView[] = Array.from({ length: 960 }, (_, i) => ({ address: FARM, ts: T0 + Math.floor((i * 12 * MINUTE) / 960), video: i % 3 }));
  const messages = sourceMessages(0, views, 1, { flushEvery: 20, idleAtEnd: true }).flatMap((f) => f.map((m) => m.value));

  it('loses no flag to a crash that follows the messages read while its verdicts were sent', () => {
    const undisturbed = task();
    messages.forEach((m, offset) => undisturbed.add(m, offset));
    const all = flags([undisturbed.takeVerdicts()]);
    expect(all.size).toBeGreaterThan(8);

    for (const at of [5, 17, 30]) {
      const first = task();
      const sent: (Buffer | null)[] = [];
      messages.slice(0, at).forEach((m, offset) => first.add(m, offset));
      const checkpoint = first.takeCheckpoint();
      // read on before the send: these judge steps the stored state has not
      messages.slice(at, at + 10).forEach((m, i) => first.add(m, at + i));
      sent.push(checkpoint.verdicts);
      // crash: the verdicts judged since are never sent; the next owner restores and replays
      const next = task();
      next.restore([checkpoint.state.bytes]);
      for (let offset = checkpoint.offset; offset < messages.length; offset++) next.add(messages[offset], offset);
      sent.push(next.takeVerdicts());
      expect(flags(sent), `checkpoint after message ${at}`).toEqual(all);
    }
  });

  it('restores a chain written per minute, before verdict steps, and goes on judging: with the flags sent before, every farm view a bot, the home none', () => {
    // written by the address stage of the release before verdict steps, from these views' first 20 messages
    // (two checkpoints: a snapshot and a change) with the verdict messages it sent
    const fixture = JSON.parse(readFileSync(new URL('./address-state-per-minute.fixture.json', import.meta.url), 'utf8')) as { messagesRead: number; verdictWatermark: number; verdicts: string[]; chain: string[] };
    const farm: SourceView[] = Array.from({ length: 700 }, (_, i) => ({ address: 1, ts: T0 + 40_000 + Math.floor((i * 10 * MINUTE) / 700), video: i % 3 }));
    const home: SourceView[] = Array.from({ length: 24 }, (_, i) => ({ address: 2, ts: T0 + Math.floor((i * 12 * MINUTE) / 24), video: i % 12 }));
    const messages = sourceMessages(0, [...farm, ...home].sort((a, b) => a.ts - b.ts), 1, { flushEvery: 20, idleAtEnd: true }).flatMap((f) => f.map((m) => m.value));
    const restored = task();
    restored.restore(fixture.chain.map((link) => Buffer.from(link, 'base64')));
    expect([restored.nextOffset, restored.scorer.verdictWatermark]).toEqual([fixture.messagesRead, fixture.verdictWatermark]);
    for (let offset = restored.nextOffset; offset < messages.length; offset++) restored.add(messages[offset], offset);
    const counting = new AddressVerdicts(1);
    const sent = [...fixture.verdicts.map((m) => Buffer.from(m, 'base64')), restored.takeVerdicts()!];
    sent.forEach((m, offset) => counting.apply(new VerdictMessage().load(m), offset));
    const bot = (v: SourceView) => counting.flagOf(...addressKey(v.address), stepOf(v.ts)) >= 0;
    expect(farm.filter((v) => !bot(v)).map((v) => v.ts - T0)).toEqual([]);
    expect(home.filter(bot).map((v) => v.ts - T0)).toEqual([]);
    expect(counting.watermark).toBeGreaterThanOrEqual(T0 + 11 * MINUTE);
  });
});
