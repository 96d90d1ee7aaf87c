import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbViewEvent, sampleViewEvent } from './view-event.arbitrary.ts';
import { kafkaKey, viewerKey } from './viewer-key.ts';

const anonymous = (ip: string, user_agent: string) => ({ ...sampleViewEvent(), viewer_id: null, session_id: '', ip, user_agent });

describe('viewerKey', () => {
  it('prefers viewer_id, then session_id, then a hash of ip and user agent', () => {
    expect(viewerKey({ ...sampleViewEvent(), viewer_id: 'u-9', session_id: 's-9' })).toBe('v:u-9');
    expect(viewerKey({ ...sampleViewEvent(), viewer_id: null, session_id: 's-9' })).toBe('s:s-9');
    expect(viewerKey({ ...sampleViewEvent(), viewer_id: '', session_id: 's-9' })).toBe('s:s-9');
    expect(viewerKey(anonymous('203.0.113.7', 'Mozilla/5.0'))).toMatch(/^h:[0-9a-f]{16}$/);
  });

  it('hashes a stable, documented input: sha1 of "<ip length>:<ip><user agent>", first 16 hex digits', () => {
    const expected = createHash('sha1').update('11:203.0.113.7Mozilla/5.0').digest('hex').slice(0, 16);
    expect(viewerKey(anonymous('203.0.113.7', 'Mozilla/5.0'))).toBe(`h:${expected}`);
  });

  it('keeps (ip, user agent) pairs apart when their concatenation is equal', () => {
    expect(viewerKey(anonymous('1.2.3.4', '5x'))).not.toBe(viewerKey(anonymous('1.2.3.45', 'x')));
  });

  it('never lets one kind of key pose as another (2000 runs)', () => {
    fc.assert(
      fc.property(arbViewEvent, (e) => {
        const key = viewerKey(e);
        const kind = e.viewer_id ? 'v' : e.session_id ? 's' : 'h';
        expect(key.slice(0, 2)).toBe(`${kind}:`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('kafkaKey', () => {
  it('is the viewer key and the video id', () => {
    expect(kafkaKey(sampleViewEvent())).toBe('v:u-1|vid-1');
    expect(kafkaKey({ ...sampleViewEvent(), viewer_id: null })).toBe('s:s-1|vid-1');
  });

  it('is the same for every event of one viewer on one video, whatever else changes (1000 runs)', () => {
    fc.assert(
      fc.property(arbViewEvent, arbViewEvent, (a, b) => {
        const retry = { ...b, viewer_id: a.viewer_id, session_id: a.session_id, ip: a.ip, user_agent: a.user_agent, video_id: a.video_id };
        expect(kafkaKey(retry)).toBe(kafkaKey(a));
      }),
      { numRuns: 1000 },
    );
  });
});
