import { InvalidArgumentError } from 'commander';

/** Inclusive bounds of an integer option. */
export interface IntegerRange {
  min: number;
  max?: number;
}

function integerIn(value: string, range: IntegerRange): number | null {
  const n = /^\s*-?\d[\d_]*\s*$/.test(value) ? Number(value.replaceAll('_', '')) : NaN;
  return Number.isSafeInteger(n) && n >= range.min && n <= (range.max ?? Number.MAX_SAFE_INTEGER) ? n : null;
}

function expected(range: IntegerRange): string {
  return `an integer ${range.max === undefined ? `≥ ${range.min}` : `in ${range.min}..${range.max}`}`;
}

/**
 * The one parser of integer flags and `VT_*` values: `undefined` when unset or empty, else an
 * integer in the range (`_` allowed as a digit separator, `5_000_000`), else an error naming
 * where the value came from.
 */
export function parseIntegerOption(name: string, value: string | undefined, range: IntegerRange): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = integerIn(value, range);
  if (n === null) throw new Error(`${name} must be ${expected(range)}, got ${JSON.stringify(value)}`);
  return n;
}

/** The same parser for commander (`.option('--n <n>', 'desc', integerArgument({ min: 1 }))`), which names the flag. */
export function integerArgument(range: IntegerRange): (value: string) => number {
  return (value) => {
    const n = integerIn(value, range);
    if (n === null) throw new InvalidArgumentError(`expected ${expected(range)}`);
    return n;
  };
}

/** A TCP port; 0 lets the system pick one. */
export const PORT_RANGE: IntegerRange = { min: 0, max: 65535 };
