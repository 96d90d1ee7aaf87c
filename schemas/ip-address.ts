/**
 * Parsing of IP addresses, allocation-free for IPv4 (most beacons): the one parser of the event
 * validator, the bot rules' CIDR sets and scorer, and the rejected rows' prefixes. IPv4 addresses
 * are uint32 numbers; IPv6 addresses four uint32 words.
 */

/** The IPv4 address `s` as a uint32, or -1 when `s` is not a dotted-quad IPv4 address. */
export function parseIPv4(s: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // A leading zero would read as octal in some parsers: refuse the ambiguity.
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

const HEX = /^[0-9a-fA-F]{1,4}$/;

/** Parses the IPv6 address `s` into `out` (four uint32 words, most significant first); false when invalid. */
export function parseIPv6(s: string, out: Uint32Array): boolean {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return false;
  const head = gap >= 0 ? splitGroups(s.slice(0, gap)) : splitGroups(s);
  const tail = gap >= 0 ? splitGroups(s.slice(gap + 2)) : [];
  if (head === null || tail === null) return false;
  const groups = new Array<number>(8).fill(0);
  const total = head.length + tail.length;
  if (gap >= 0 ? total > 7 : total !== 8) return false;
  for (let i = 0; i < head.length; i++) groups[i] = head[i];
  for (let i = 0; i < tail.length; i++) groups[8 - tail.length + i] = tail[i];
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return true;
}

/** Hex groups of one side of `::`; a trailing dotted quad counts as two groups. Null when malformed. */
function splitGroups(part: string): number[] | null {
  if (part === '') return [];
  const parts = part.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (v4 < 0) return null;
      groups.push(v4 >>> 16, v4 & 0xffff);
    } else {
      if (!HEX.test(p)) return null;
      groups.push(parseInt(p, 16));
    }
  }
  return groups;
}

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 uint32, else -1. */
export function mappedIPv4(w: Uint32Array): number {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff ? w[3] : -1;
}
