import type { Device, TrafficSource } from '../schemas/view-event.ts';
import { hashString, mix32, WeightedTable, type Rng } from './labelled-stream-random.ts';

/** What a video id implies, derived from the id alone so any consumer can recompute it. */
export interface VideoMeta {
  video_id: string;
  channel_id: string;
  category: string;
  /** The channel owner's viewer id. */
  owner_id: string;
  video_duration_ms: number | null;
}

const CATEGORIES = ['music', 'gaming', 'education', 'news', 'sports', 'comedy', 'howto', 'science', 'travel', 'film', 'autos', 'pets'];

/** The id of the video of popularity rank `rank` (0 = most popular). */
export function videoId(rank: number): string {
  return `v${rank}`;
}

/** Channel, category, owner and duration of a video, from its id. `channels` is the catalogue's channel count. */
export function videoMeta(video_id: string, channels: number): VideoMeta {
  const h = hashString(video_id);
  const channel = h % channels;
  const category = CATEGORIES[mix32(channel + 0x5bd1e995) % CATEGORIES.length];
  const d = mix32(h ^ 0x27d4eb2f);
  const kind = d % 100;
  const u = (d >>> 8) / 16777216;
  let duration: number | null;
  if (kind < 22) duration = Math.round(15_000 + u * 45_000); // shorts: 15–60 s
  else if (kind < 82) duration = Math.round(120_000 + u * 1_080_000); // 2–20 min
  else if (kind < 97) duration = Math.round(1_200_000 + u * 2_400_000); // 20–60 min
  else duration = null; // live or unknown
  return { video_id, channel_id: `c${channel}`, category, owner_id: `o${channel}`, video_duration_ms: duration };
}

export const COUNTRIES = new WeightedTable<string>([
  ['US', 20], ['IN', 14], ['BR', 8], ['ID', 5], ['MX', 4], ['JP', 4], ['DE', 4], ['GB', 4], ['FR', 3], ['PH', 3],
  ['VN', 3], ['TR', 3], ['KR', 2], ['RU', 2], ['IT', 2], ['ES', 2], ['CA', 2], ['TH', 2], ['EG', 2], ['PL', 1.5],
  ['AR', 1.5], ['CO', 1.5], ['NG', 1.5], ['PK', 1.5], ['SA', 1], ['AU', 1], ['NL', 1], ['UA', 1], ['ZZ', 1],
]);

export const DEVICES = new WeightedTable<Device>([['mobile', 58], ['desktop', 24], ['tv', 10], ['tablet', 6], ['console', 1], ['other', 1]]);

export const TRAFFIC_SOURCES = new WeightedTable<TrafficSource>([
  ['suggested', 38], ['search', 20], ['external', 10], ['direct', 8], ['channel', 8], ['playlist', 7], ['notification', 6], ['other', 3],
]);

/** Browser and app user agents that no bot list matches. */
const HUMAN_UAS: Record<Device, string[]> = {
  desktop: [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  ],
  mobile: [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
    'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36',
  ],
  tablet: ['Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'],
  tv: [
    'Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36',
    'Roku/DVP-12.5 (12.5.0.4174-56)',
  ],
  console: ['Mozilla/5.0 (PlayStation; PlayStation 5/8.20) AppleWebKit/605.1.15 (KHTML, like Gecko)'],
  other: ['Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7624.3337N; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36'],
};

export function humanUserAgent(rng: Rng, device: Device): string {
  return rng.pick(HUMAN_UAS[device]);
}

/** User agents that declare a bot: on the maintained `isbot` list, or (ViewBooster) on the default `uaDenyExtra`. */
export const DECLARED_BOT_UAS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36',
  'python-requests/2.31.0',
  'curl/8.5.0',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'Mozilla/5.0 (Linux; Android 14) ViewBooster/3.2',
];

/** TLS fingerprints of real browsers (none on the default deny list). */
const BROWSER_JA3 = ['cd08e31494f9531f560d64c695473da9', '773906b0efdefa24a7f2b8eb6985bf37', '579ccef312d18482fc42e2b822ca2430', 'b20b44b18b853ef29ab773e921b03422', '66918128f1b9b03303d77c6f2eefd128'];

/** A browser JA3, or null (30 %: the edge does not always have one). */
export function browserJa3(rng: Rng): string | null {
  return rng.chance(0.3) ? null : rng.pick(BROWSER_JA3);
}

/** Fingerprints on the default `ja3Deny` list (HTTP libraries replaying beacons). */
export const DENIED_JA3 = ['8896468359a279a05de2651c5021ac6f', 'b32309a26951912be7dba376398abc3b', '3b5074b1b5d032e5620f69f9f700ff0e'];

function v4(a: number, h: number): string {
  return `${a}.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${1 + ((h & 255) % 254)}`;
}

function hex16(x: number): string {
  return (x & 0xffff).toString(16);
}

// People's homes: cable and DSL networks on neither default list (checked by the tests).
const HOME_V4_FIRST_OCTETS = [73, 24, 86, 189, 112];

/** The address of household `n` (10 % IPv6: a /64 per home, a fresh interface id per session). */
export function householdIp(n: number, rng: Rng): string {
  const h = mix32(n * 2654435761 + 17);
  if (h % 10 === 0) return `2a02:8108:${hex16(h >>> 16)}:${hex16(h)}:${hex16(rng.u32())}:${hex16(rng.u32())}:${hex16(rng.u32())}:${hex16(rng.u32())}`;
  return v4(HOME_V4_FIRST_OCTETS[h % HOME_V4_FIRST_OCTETS.length], mix32(h));
}

/** Carrier-grade NAT egress addresses inside the default `carrierNatCidrs`: each carries many people. */
export const CARRIER_NAT_IPS = [
  '100.64.12.7', '100.70.3.19', '100.81.200.4', '100.99.45.130', '100.127.9.66',
  '172.32.18.5', '172.44.201.77', '174.192.66.8', '174.240.3.140', '166.137.12.9',
  '166.170.40.21', '49.36.77.3', '49.44.130.200', '2607:fb90:1a2b:3c4d::1', '2607:fb90:88:4500::2f',
];

/** One mobile carrier's NAT egress (inside the default `carrierNatCidrs`, apart from {@link CARRIER_NAT_IPS}): thousands of signed-in people share it. */
export const CGNAT_IP = '100.100.7.42';

// Hosting ranges inside the default `datacenterCidrs`: commercial VPN exits and rented servers.
const VPN_PREFIXES = ['104.131', '159.65', '5.9', '88.198', '45.79'];
const BOT_DC_PREFIXES = ['3.91', '34.201', '35.188', '138.68', '95.216', '149.28'];

/** A commercial VPN exit in a hosting range, shared by few people. */
export function vpnIp(n: number): string {
  const h = mix32(n + 0x3c6ef372);
  const [a, b] = VPN_PREFIXES[h % VPN_PREFIXES.length].split('.');
  return `${a}.${b}.${(h >>> 8) & 255}.${1 + ((h >>> 16) % 254)}`;
}

/** A rented cloud server address (8 % IPv6 in an AWS range). */
export function botDatacenterIp(n: number): string {
  const h = mix32(n + 0x7f4a7c15);
  if (h % 12 === 0) return `2600:1f00:${hex16(h >>> 12)}:${hex16(h)}::${hex16(n)}`;
  const [a, b] = BOT_DC_PREFIXES[h % BOT_DC_PREFIXES.length].split('.');
  return `${a}.${b}.${(h >>> 8) & 255}.${1 + ((h >>> 16) % 254)}`;
}

// Residential proxy networks bots rent: consumer address space kept apart from the simulated homes.
const BOT_PROXY_FIRST_OCTETS = [98, 76, 71];

/** A residential proxy exit used by disguised bots. */
export function botProxyIp(n: number): string {
  const h = mix32(n * 40503 + 0x165667b1);
  return v4(BOT_PROXY_FIRST_OCTETS[h % BOT_PROXY_FIRST_OCTETS.length], mix32(h + 1));
}
