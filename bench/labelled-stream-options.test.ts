import { describe, expect, it } from 'vitest';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { generateLabelledStream, truthOf, type LabelledEvent } from './labelled-stream.ts';

const MINUTE = 60_000;
const base = { seed: 31, events: 150_000, videos: 200_000, minutes: 60 };

function views(items: LabelledEvent[], from = -Infinity, to = Infinity): LabelledEvent[] {
  return items.filter((i) => i.event.event_type === 'view' && i.event.ts >= from && i.event.ts < to);
}

describe('labelled stream options', () => {
  const plain = generateLabelledStream(base).toArray();

  it('a viral spike gives one video ~10× its share during the spike, and only then', () => {
    const stream = generateLabelledStream({ ...base, spike: { rank: 50, factor: 10, fromMinute: 20, minutes: 20 } });
    const items = stream.toArray();
    const { startMs } = stream.options;
    const share = (list: LabelledEvent[], from: number, to: number) => {
      const v = views(list, startMs + from * MINUTE, startMs + to * MINUTE);
      return v.filter((i) => i.event.video_id === 'v50').length / v.length;
    };
    const during = share(items, 20, 40) / share(plain, 20, 40);
    expect(during).toBeGreaterThan(6);
    expect(during).toBeLessThan(14);
    // Outside the spike the stream draws exactly as without it.
    const before = (list: LabelledEvent[]) => list.filter((i) => i.event.ts < startMs + 19 * MINUTE).map((i) => i.event.event_id + i.event.video_id);
    expect(before(items)).toEqual(before(plain));
  });

  it('offline phones deliver ~the asked share of events late, each person in order, labels still exact', () => {
    const stream = generateLabelledStream({ ...base, late: { share: 0.03, minDelayMs: 2 * MINUTE, maxDelayMs: 30 * MINUTE } });
    const items = stream.toArray();
    let maxTs = -Infinity;
    const late: LabelledEvent[] = [];
    const pairTs = new Map<string, number>();
    const wrong: string[] = [];
    for (const item of items) {
      const e = item.event;
      if (e.ts < maxTs - MINUTE) late.push(item);
      maxTs = Math.max(maxTs, e.ts);
      const pair = kafkaKey(e);
      if (e.ts < (pairTs.get(pair) ?? -Infinity)) wrong.push(`${e.event_id}: goes back in time within its pair`);
      pairTs.set(pair, e.ts);
    }
    expect(wrong).toEqual([]);
    expect(late.length / items.length).toBeGreaterThan(0.01);
    expect(late.length / items.length).toBeLessThan(0.04);
    expect(late.every((i) => i.event.device === 'mobile' && i.population.startsWith('human_'))).toBe(true);
    // Late delivery moves events, not outcomes: the truth per minute is that of the events' own times.
    const t = truthOf(items);
    expect([...t.countedByVideo.values()].reduce((a, b) => a + b, 0)).toBe(t.outcomes.counted);
  });

  it('refreshes and retries follow their rates', () => {
    const dupShare = (list: LabelledEvent[]) => truthOf(list).outcomes.duplicate / views(list).length;
    const more = generateLabelledStream({ ...base, refreshRate: 0.38, retryRate: 0.06 }).toArray();
    expect(dupShare(plain)).toBeLessThan(0.12);
    expect(dupShare(more)).toBeGreaterThan(0.18);
  });
});
