import type { ViewEvent } from '../schemas/view-event.ts';
import { kafkaKey } from '../schemas/viewer-key.ts';
import { minuteOf } from '../bench/labelled-stream-truth.ts';

/**
 * Shuffles events within each minute while keeping each Kafka key's events in their order —
 * what a collector fleet produces: arrival order across viewers is arbitrary, but one viewer's
 * beacons for one video stay in sequence (and Kafka keeps a key's order).
 */
export function shuffleWithinMinutes<T extends { event: ViewEvent }>(items: T[], random: () => number): T[] {
  const out: T[] = [];
  let start = 0;
  while (start < items.length) {
    const minute = minuteOf(items[start].event.ts);
    let end = start;
    while (end < items.length && minuteOf(items[end].event.ts) === minute) end++;
    const slice = items.slice(start, end);
    const order = slice.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    // Slots each key occupies after the shuffle are refilled with that key's events in their original order.
    const byKey = new Map<string, T[]>();
    for (const item of slice) {
      const k = kafkaKey(item.event);
      const list = byKey.get(k);
      if (list) list.push(item);
      else byKey.set(k, [item]);
    }
    const cursor = new Map<string, number>();
    for (const i of order) {
      const k = kafkaKey(slice[i].event);
      const n = cursor.get(k) ?? 0;
      cursor.set(k, n + 1);
      out.push(byKey.get(k)![n]);
    }
    start = end;
  }
  return out;
}
