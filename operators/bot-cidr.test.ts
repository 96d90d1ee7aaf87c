import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CidrError, CidrSet } from './bot-cidr.ts';
import { parseIPv4 } from '../schemas/ip-address.ts';

const arbV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const arbV6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

/** A canonical CIDR block around `addr`: host bits cleared, as Node's BlockList and our parser both accept. */
function v4Block(addr: string, bits: number): string {
  const n = parseIPv4(addr);
  const size = 2 ** (32 - bits);
  const net = n - (n % size);
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${bits}`;
}

function v6Block(addr: string, bits: number): string {
  const groups = addr.split(':').map((g) => parseInt(g, 16));
  const out = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - 16 * i));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${out.map((g) => g.toString(16)).join(':')}/${bits}`;
}

describe('CidrSet', () => {
  it('matches IPv4 ranges by binary search over merged ranges', () => {
    const set = CidrSet.parse(['10.0.0.0/8', '10.1.0.0/16', '192.168.1.0/24', '203.0.113.7', '0.0.0.0/32']);
    expect(set.size).toBe(5);
    for (const ip of ['10.0.0.0', '10.255.255.255', '192.168.1.77', '203.0.113.7', '0.0.0.0']) expect(set.has(ip)).toBe(true);
    for (const ip of ['11.0.0.0', '9.255.255.255', '192.168.2.1', '203.0.113.8', '0.0.0.1', 'not an ip']) expect(set.has(ip)).toBe(false);
  });

  it('matches IPv6 prefixes, and IPv4-mapped addresses against IPv4 blocks', () => {
    const set = CidrSet.parse(['2600:1f00::/24', '2001:db8:abcd::/48', '100.64.0.0/10', '::ffff:198.51.100.0/120']);
    expect(set.has('2600:1fff:1::1')).toBe(true);
    expect(set.has('2600:2000::1')).toBe(false);
    expect(set.has('2001:db8:abcd:ffff::1')).toBe(true);
    expect(set.has('2001:db8:abce::1')).toBe(false);
    expect(set.has('::ffff:100.100.1.1')).toBe(true);
    expect(set.has('198.51.100.9')).toBe(true);
    expect(CidrSet.parse(['::/0']).has('abcd::1')).toBe(true);
  });

  it('names the entry at fault: bad address, bad prefix, host bits set', () => {
    const fault = (list: string[]) => {
      try {
        CidrSet.parse(list);
      } catch (err) {
        return [(err as CidrError).index, (err as Error).message];
      }
      return null;
    };
    expect(fault(['10.0.0.0/8', '10.0.0.300/8'])).toEqual([1, expect.stringContaining('not an IPv4 or IPv6 address')]);
    expect(fault(['10.0.0.0/33'])).toEqual([0, expect.stringContaining('at most /32')]);
    expect(fault(['10.0.0.0/x'])).toEqual([0, expect.stringContaining('prefix length')]);
    expect(fault(['10.1.2.3/8'])).toEqual([0, expect.stringContaining('did you mean 10.0.0.0/8')]);
    expect(fault(['2001:db8::1/32'])).toEqual([0, expect.stringContaining('host bits')]);
    expect(fault(['2001:db8::/129'])).toEqual([0, expect.stringContaining('at most /128')]);
  });

  it('agrees with node:net BlockList on random IPv4 blocks and addresses (500 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(arbV4, fc.integer({ min: 0, max: 32 })), { maxLength: 12 }), fc.array(arbV4, { minLength: 1, maxLength: 20 }), (blocks, probes) => {
        const cidrs = blocks.map(([a, bits]) => v4Block(a, bits));
        const ours = CidrSet.parse(cidrs);
        const ref = new BlockList();
        for (const c of cidrs) ref.addSubnet(c.split('/')[0], Number(c.split('/')[1]), 'ipv4');
        // Probe the block edges too, where off-by-one errors live.
        const edges = cidrs.flatMap((c) => {
          const start = parseIPv4(c.split('/')[0]);
          const end = start + 2 ** (32 - Number(c.split('/')[1])) - 1;
          return [start, end, start - 1, end + 1].filter((n) => n >= 0 && n <= 0xffffffff).map((n) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
        });
        for (const ip of [...probes, ...edges]) expect(ours.has(ip)).toBe(ref.check(ip, 'ipv4'));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with node:net BlockList on random IPv6 blocks and addresses (500 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(arbV6, fc.integer({ min: 0, max: 128 })), { maxLength: 8 }), fc.array(arbV6, { minLength: 1, maxLength: 20 }), (blocks, probes) => {
        const cidrs = blocks.map(([a, bits]) => v6Block(a, bits));
        const ours = CidrSet.parse(cidrs);
        const ref = new BlockList();
        for (const c of cidrs) ref.addSubnet(c.split('/')[0], Number(c.split('/')[1]), 'ipv6');
        const inside = cidrs.map((c) => c.split('/')[0]);
        for (const ip of [...probes, ...inside]) expect(ours.has(ip)).toBe(ref.check(ip, 'ipv6'));
      }),
      { numRuns: 500 },
    );
  });
});
