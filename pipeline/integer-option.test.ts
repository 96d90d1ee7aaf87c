import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { PORT_RANGE, integerArgument, parseIntegerOption } from './integer-option.ts';

describe('parseIntegerOption', () => {
  it('reads integers in range, with _ separators, and leaves unset values to the caller', () => {
    expect(parseIntegerOption('--port', '8080', PORT_RANGE)).toBe(8080);
    expect(parseIntegerOption('--port', '0', PORT_RANGE)).toBe(0);
    expect(parseIntegerOption('--events', '5_000_000', { min: 1 })).toBe(5_000_000);
    expect(parseIntegerOption('--events', ' 12 ', { min: 1 })).toBe(12);
    expect(parseIntegerOption('--port', undefined, PORT_RANGE)).toBeUndefined();
    expect(parseIntegerOption('VT_PORT', '', PORT_RANGE)).toBeUndefined();
  });

  it('refuses what is not an integer in range, naming the option and the value', () => {
    expect(() => parseIntegerOption('--port', '65536', PORT_RANGE)).toThrow('--port must be an integer in 0..65535, got "65536"');
    expect(() => parseIntegerOption('--rate', '0', { min: 1 })).toThrow('--rate must be an integer ≥ 1, got "0"');
    for (const bad of ['1.5', '1e3', '0x10', 'abc', '12abc', '-', '_1', '9007199254740993']) {
      expect(() => parseIntegerOption('VT_PARTITIONS', bad, { min: 1 }), bad).toThrow(/^VT_PARTITIONS must be an integer/);
    }
  });

  it('has a commander form that raises commander’s InvalidArgumentError', () => {
    const parse = integerArgument({ min: 1, max: 10 });
    expect(parse('7')).toBe(7);
    expect(() => parse('11')).toThrow(InvalidArgumentError);
    expect(() => parse('11')).toThrow('expected an integer in 1..10');
  });
});
