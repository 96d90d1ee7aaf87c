/**
 * Small, fast, seedable randomness for the labelled stream: sfc32 (passes PractRand to 2^60+),
 * seeded through splitmix32, plus the samplers the generator needs (Zipf, weighted tables).
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      return mix32(s);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform uint32. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Uniform real in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Exponentially distributed with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** A 32-bit avalanche mix (murmur3 finaliser): a stateless hash of an integer. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** 32-bit FNV-1a of a string, for deriving attributes from ids. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** Samples from a fixed discrete distribution by binary search over its cumulative weights. */
export class WeightedTable<T> {
  private readonly cumulative: Float64Array;
  readonly values: readonly T[];

  constructor(entries: ReadonlyArray<readonly [T, number]>) {
    this.values = entries.map((e) => e[0]);
    this.cumulative = new Float64Array(entries.length);
    let sum = 0;
    entries.forEach((e, i) => (this.cumulative[i] = sum += e[1]));
    for (let i = 0; i < entries.length; i++) this.cumulative[i] /= sum;
  }

  /** The value at cumulative position `u` in [0, 1). */
  at(u: number): T {
    return this.values[searchCumulative(this.cumulative, u)];
  }

  sample(rng: Rng): T {
    return this.at(rng.float());
  }
}

/** Zipf(s) over ranks 0..n-1 (rank 0 most popular); the table is n doubles (8 MB for a million videos). */
export class Zipf {
  private readonly cumulative: Float64Array;
  /** Ranks drawn from: 0 … size − 1. */
  readonly size: number;

  constructor(n: number, s: number) {
    this.size = n;
    this.cumulative = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) this.cumulative[k] = sum += 1 / Math.pow(k + 1, s);
    for (let k = 0; k < n; k++) this.cumulative[k] /= sum;
  }

  sample(rng: Rng): number {
    return searchCumulative(this.cumulative, rng.float());
  }

  /** The probability of rank `k` (its share of the draws). */
  probability(k: number): number {
    return this.cumulative[k] - (k > 0 ? this.cumulative[k - 1] : 0);
  }
}

function searchCumulative(c: Float64Array, u: number): number {
  let lo = 0;
  let hi = c.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
