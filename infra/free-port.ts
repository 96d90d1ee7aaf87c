import { readFileSync } from 'node:fs';
import { portFree } from './processes.ts';

// Where ports are looked for: below the kernel's ephemeral range, so that no outgoing connection
// can be given a service's port while the service is down (a broker killed and restarted by a test
// then failed to bind its own port: "Address already in use").
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux), or 32768 where it cannot be read. */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, below the ephemeral range, with the
 * `following` ports after it below that range too (the caller checks that they are free).
 */
export async function freePort(following = 0): Promise<number> {
  const top = ephemeralLow() - 1 - following;
  for (;;) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (await portFree(port)) return port;
  }
}
