import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIPv4, parseIPv6 } from './ip-address.ts';

const words = (s: string) => {
  const w = new Uint32Array(4);
  return parseIPv6(s, w) ? [...w].map((x) => x.toString(16)) : null;
};

const arbV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const arbV6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

describe('parseIPv4', () => {
  it('reads dotted quads as uint32 and refuses everything else', () => {
    expect(parseIPv4('0.0.0.0')).toBe(0);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIPv4('100.64.0.1')).toBe(((100 << 24) >>> 0) + (64 << 16) + 1);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.-4', '::1']) expect(parseIPv4(bad)).toBe(-1);
  });

  it('agrees with node:net on random input (2000 runs)', () => {
    const arbText = fc.oneof(arbV4, fc.stringMatching(/^[0-9.]{1,16}$/), arbV4.map((s) => s.replace(/^(\d)/, '0$1')));
    fc.assert(
      fc.property(arbText, (s) => {
        expect(parseIPv4(s) >= 0).toBe(isIPv4(s));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseIPv6', () => {
  it('expands ::, embedded IPv4 and zone ids', () => {
    expect(words('::')).toEqual(['0', '0', '0', '0']);
    expect(words('::1')).toEqual(['0', '0', '0', '1']);
    expect(words('2001:db8::1')).toEqual(['20010db8', '0', '0', '1']);
    expect(words('2001:db8:0:0:0:0:2:1')).toEqual(['20010db8', '0', '0', '20001']);
    expect(words('::ffff:192.0.2.1')).toEqual(['0', '0', 'ffff', 'c0000201']);
    expect(words('fe80::1%eth0')).toEqual(['fe800000', '0', '0', '1']);
    expect(words('2607:FB90::A')).toEqual(['2607fb90', '0', '0', 'a']);
  });

  it('refuses malformed addresses', () => {
    for (const bad of ['', ':::', '1::2::3', '12345::', 'g::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3', '1.2.3.4']) expect(words(bad)).toBeNull();
  });

  it('agrees with node:net on random compressed input (1000 runs)', () => {
    fc.assert(
      fc.property(arbV6, fc.nat(7), fc.nat(8), (full, from, len) => {
        const groups = full.split(':');
        const compressed = `${groups.slice(0, from).join(':')}::${groups.slice(Math.min(8, from + len)).join(':')}`;
        const ours = new Uint32Array(4);
        expect(parseIPv6(compressed, ours)).toBe(isIPv6(compressed));
      }),
    );
  });
});
