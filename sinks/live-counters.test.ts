import { describe, expect, it } from 'vitest';
import { partitionTag, progressKey, uniqKey, viewsKeyPrefix } from './live-counters.ts';

/** The part of a key Redis Cluster hashes: the first `{…}` with something in it, else the whole key. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('live counter keys', () => {
  it('keep a video total under its id on one server', () => {
    expect(viewsKeyPrefix('single', progressKey('g', 't', 3)) + 'v1').toBe('vt:views:v1');
    expect(uniqKey('v1')).toBe('vt:uniq:v1');
  });

  it('put a partition’s counters in its progress key’s slot on a cluster, whatever the ids hold', () => {
    for (const [group, topic, video] of [
      ['g', 't', 'v1'],
      ['grp}x', 'views', '{odd}video'],
      ['a{b', 't.2', 'v}'],
    ]) {
      for (const partition of [0, 15]) {
        const progress = progressKey(group, topic, partition);
        const counter = viewsKeyPrefix('sharded', progress) + video;
        expect(hashedPart(counter)).toBe(hashedPart(progress));
        expect(hashedPart(`${progress}:log`)).toBe(hashedPart(progress));
        expect(counter).toBe(`vt:views:${partitionTag(group, topic, partition)}:${video}`);
      }
    }
  });

  it('give each partition of a job its own slot key', () => {
    const tags = new Set(Array.from({ length: 16 }, (_, p) => hashedPart(progressKey('g', 't', p))));
    expect(tags.size).toBe(16);
  });
});
