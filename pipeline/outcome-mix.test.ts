import { describe, expect, it } from 'vitest';
import { outcomeMixLine } from './outcome-mix.ts';

describe('outcomeMixLine', () => {
  it('puts counted first, then the other outcomes by share, each with why it is not a view', () => {
    expect(outcomeMixLine({ duplicate: 120, counted: 160, not_a_view: 410, too_short: 220, bot: 85, invalid: 5 })).toBe(
      'outcomes of 1000 events: counted 16 % (views) · not_a_view 41 % (heartbeats, polls, page loads) · too_short 22 % (watched too briefly) · duplicate 12 % (retries and repeat views) · bot 8.5 % (bots) · invalid 0.5 % (malformed)',
    );
  });

  it('says when nothing is written yet', () => {
    expect(outcomeMixLine({})).toMatch(/none written yet/);
  });
});
