import { createHmac } from 'node:crypto';
import { isIPv4 } from 'node:net';

const DAY = 86_400_000;

/**
 * Hashes IP addresses with a salt that rotates daily (derived from the secret and the event's
 * UTC day), so stored hashes can be grouped within a day but not joined across days or reversed
 * by enumerating the IPv4 space without the secret.
 */
export class IpHasher {
  private readonly secret: string;
  private readonly salts = new Map<number, Buffer>();

  constructor(secret: string) {
    this.secret = secret;
  }

  /** The keyed hash of `ip` under the salt of the day of `ts`. */
  hash(ip: string, ts: number): string {
    const day = Math.floor(ts / DAY);
    let salt = this.salts.get(day);
    if (!salt) {
      salt = createHmac('sha256', this.secret).update(String(day)).digest();
      if (this.salts.size > 8) this.salts.clear();
      this.salts.set(day, salt);
    }
    return createHmac('sha256', salt).update(ip).digest('hex').slice(0, 32);
  }
}

/** The /24 network of an IPv4 address or the /48 of an IPv6 one, for bot analysis. */
export function ipPrefix(ip: string): string {
  if (isIPv4(ip)) return ip.slice(0, ip.lastIndexOf('.')) + '.0/24';
  const groups = ip.split(':');
  return groups.slice(0, 3).join(':') + '::/48';
}
