import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { BinaryWriter } from '../schemas/binary-writer.ts';
import { parseIPv4 } from '../schemas/ip-address.ts';

const DAY = 86_400_000;
/** Address hashes remembered per day, then forgotten all at once: ~2 MB of strings a day (salts of up to 9 days are kept). */
const HASHES_KEPT = 16_384;
/** Bytes enciphered per step of `seal`. */
const SEAL_CHUNK = 1 << 16;

/** The IP hash secret: `VT_IP_HASH_SECRET`, else the local default (a deployment sets its own). */
export function ipHashSecret(): string {
  return process.env.VT_IP_HASH_SECRET ?? 'viewtally-local-ip-secret';
}

/**
 * Hashes IP addresses with a salt that rotates daily (derived from the secret and the event's
 * UTC day), so stored hashes can be grouped within a day but not joined across days or reversed
 * by enumerating the IPv4 space without the secret.
 */
export class IpHasher {
  private readonly secret: string;
  /** Per UTC day its salt, and the hashes made under it lately: bots repeat their addresses, and an HMAC costs microseconds. */
  private readonly salts = new Map<number, { salt: Buffer; hashes: Map<string, string> }>();
  private readonly sealKey: Buffer;

  constructor(secret: string) {
    this.secret = secret;
    this.sealKey = createHmac('sha256', secret).update('viewtally/sealed-state').digest();
  }

  /**
   * Seals stored state that holds IP addresses in clear (views awaiting their address verdict) into
   * `w`: its length (u32), then AES-256-GCM under a key derived from the secret — a random 12-byte
   * IV, the ciphertext, the 16-byte tag. Enciphered by chunks, each copied into `w` at once: a
   * chunk's output comes from memory the allocator already holds, where one output the size of
   * the state is fresh memory, slower to touch here than to encipher.
   */
  seal(plain: Uint8Array, w: BinaryWriter): void {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    w.u32(12 + plain.length + 16);
    w.bytes(iv);
    for (let at = 0; at < plain.length; at += SEAL_CHUNK) w.bytes(cipher.update(plain.subarray(at, at + SEAL_CHUNK)));
    w.bytes(cipher.final()); // GCM: nothing held back
    w.bytes(cipher.getAuthTag());
  }

  /** Opens what `seal` sealed (without its length); throws when it was sealed under another secret (or altered). */
  open(sealed: Uint8Array): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  }

  /** The keyed hash of `ip` under the salt of the day of `ts`. */
  hash(ip: string, ts: number): string {
    const day = Math.floor(ts / DAY);
    let salted = this.salts.get(day);
    if (!salted) {
      salted = { salt: createHmac('sha256', this.secret).update(String(day)).digest(), hashes: new Map() };
      if (this.salts.size > 8) this.salts.clear();
      this.salts.set(day, salted);
    }
    let h = salted.hashes.get(ip);
    if (h === undefined) {
      h = createHmac('sha256', salted.salt).update(ip).digest('hex').slice(0, 32);
      if (salted.hashes.size >= HASHES_KEPT) salted.hashes.clear();
      salted.hashes.set(ip, h);
    }
    return h;
  }
}

/**
 * The seed of address keys (32 hex digits), derived from the IP hash secret: an address key is the
 * seeded SipHash of the address (operators/bot-scorer.ts), a keyed hash nobody can reverse or
 * reproduce without the secret. SipHash rather than an HMAC per event: it costs ~0.1 µs and
 * allocates nothing, and 64 bits keep two addresses apart as they keep the state's keys apart.
 */
export function addressKeySeed(secret: string): string {
  return createHmac('sha256', secret).update('viewtally/address-keys').digest('hex').slice(0, 32);
}

/** The /24 network of an IPv4 address or the /48 of an IPv6 one, for bot analysis. */
export function ipPrefix(ip: string): string {
  if (parseIPv4(ip) >= 0) return ip.slice(0, ip.lastIndexOf('.')) + '.0/24';
  const groups = ip.split(':');
  return groups.slice(0, 3).join(':') + '::/48';
}
