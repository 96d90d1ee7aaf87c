import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BOT_RULES_PATH, loadBotRules } from './bot-rules-source.ts';
import { BOT_SIGNALS, BotRulesError, parseBotRules } from './bot-rules.ts';

const defaults = () => JSON.parse(readFileSync(DEFAULT_BOT_RULES_PATH, 'utf8')) as Record<string, any>;

function errorOf(doc: unknown): BotRulesError {
  try {
    parseBotRules(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(BotRulesError);
    return err as BotRulesError;
  }
  throw new Error('expected the rules to be refused');
}

describe('parseBotRules', () => {
  it('accepts the shipped default rules, with a weight for every signal', () => {
    const rules = loadBotRules();
    expect(Object.keys(rules.config.weights).sort()).toEqual([...BOT_SIGNALS].sort());
    expect(rules.config.threshold).toBe(1);
    expect(rules.datacenter.size).toBeGreaterThan(20);
    expect(rules.carrierNat.has('100.64.0.1')).toBe(true);
    expect(rules.datacenter.has('3.91.10.10')).toBe(true);
    expect(rules.datacenter.has('2a01:4f8:1::1')).toBe(true);
    // A carrier-NAT range is never also a hosting range by default.
    expect(rules.datacenter.has('100.64.0.1')).toBe(false);
  });

  it('also takes the file text', () => {
    expect(parseBotRules(readFileSync(DEFAULT_BOT_RULES_PATH, 'utf8')).config.version).toBe(defaults().version);
  });

  it('refuses unknown settings, naming them and what is allowed', () => {
    const e1 = errorOf({ ...defaults(), tresholdd: 1 });
    expect(e1.field).toBe('tresholdd');
    expect(e1.message).toMatch(/unknown setting.*expected one of: threshold/);
    const d = defaults();
    d.replay.windowMss = 1;
    expect(errorOf(d).field).toBe('replay.windowMss');
    const w = defaults();
    w.weights.geo = 0.5;
    expect(errorOf(w).field).toBe('weights.geo');
  });

  it('refuses missing and mistyped settings, naming the field', () => {
    const missing = defaults();
    delete missing.ipVelocity.maxViews;
    expect(errorOf(missing)).toMatchObject({ field: 'ipVelocity.maxViews', message: expect.stringContaining('missing') });
    const weight = defaults();
    delete weight.weights.ja3;
    expect(errorOf(weight).field).toBe('weights.ja3');
    expect(errorOf({ ...defaults(), threshold: '1' })).toMatchObject({ field: 'threshold', message: expect.stringContaining('expected a number') });
    expect(errorOf({ ...defaults(), threshold: 0 }).field).toBe('threshold');
    const negative = defaults();
    negative.weights.replay_rate = -0.1;
    expect(errorOf(negative).field).toBe('weights.replay_rate');
    const fraction = defaults();
    fraction.watchPattern.minFraction = 1.5;
    expect(errorOf(fraction).field).toBe('watchPattern.minFraction');
    const integer = defaults();
    integer.replay.maxSameVideoViews = 2.5;
    expect(errorOf(integer)).toMatchObject({ field: 'replay.maxSameVideoViews', message: expect.stringContaining('integer') });
    expect(errorOf({ ...defaults(), datacenterCidrs: '3.0.0.0/9' }).field).toBe('datacenterCidrs');
    expect(errorOf({ ...defaults(), uaAllow: ['ok', 3] }).field).toBe('uaAllow[1]');
    expect(errorOf([]).field).toBe('(top level)');
  });

  it('refuses bad list entries, naming the entry', () => {
    const cidr = defaults();
    cidr.datacenterCidrs[2] = '34.192.0.1/10';
    expect(errorOf(cidr)).toMatchObject({ field: 'datacenterCidrs[2]', message: expect.stringContaining('did you mean 34.192.0.0/10') });
    expect(errorOf({ ...defaults(), carrierNatCidrs: ['100.64.0.0/10', 'nat'] }).field).toBe('carrierNatCidrs[1]');
    expect(errorOf({ ...defaults(), ja3Deny: ['abc'] })).toMatchObject({ field: 'ja3Deny[0]', message: expect.stringContaining('32 hex digits') });
    expect(errorOf({ ...defaults(), uaDenyExtra: ['ok', '(unclosed'] })).toMatchObject({ field: 'uaDenyExtra[1]', message: expect.stringContaining('regular expression') });
  });

  it('names a file that is not JSON', () => {
    const err = errorOf('{ "threshold": 1, ');
    expect(err.message).toMatch(/not valid JSON/);
  });

  it('normalises JA3 hashes to lower case', () => {
    const rules = parseBotRules({ ...defaults(), ja3Deny: ['ABCDEF0123456789ABCDEF0123456789'] });
    expect(rules.ja3Deny.has('abcdef0123456789abcdef0123456789')).toBe(true);
  });
});

describe('declaresBot', () => {
  const googlebot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
  const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

  it('uses the maintained isbot list', () => {
    const rules = loadBotRules();
    expect(rules.declaresBot(googlebot)).toBe(true);
    expect(rules.declaresBot('python-requests/2.31.0')).toBe(true);
    expect(rules.declaresBot('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36')).toBe(true);
    expect(rules.declaresBot(chrome)).toBe(false);
    expect(rules.declaresBot('')).toBe(false);
  });

  it('adds uaDenyExtra and lets uaAllow override the list', () => {
    const d = defaults();
    expect(parseBotRules(d).declaresBot('Mozilla/5.0 (Linux; Android 14) ViewBooster/3.2')).toBe(true);
    const rules = parseBotRules({ ...d, uaDenyExtra: ['^MyScraper/'], uaAllow: ['^okhttp/', 'Googlebot'] });
    expect(rules.declaresBot('MyScraper/1.0')).toBe(true);
    expect(rules.declaresBot('myscraper/1.0')).toBe(true);
    expect(rules.declaresBot('okhttp/4.12.0')).toBe(false);
    expect(rules.declaresBot(googlebot)).toBe(false);
    expect(rules.declaresBot('curl/8.5.0')).toBe(true);
  });

  it('answers the same from its cache as without it', () => {
    const rules = loadBotRules();
    for (let i = 0; i < 3; i++) {
      expect(rules.declaresBot(googlebot)).toBe(true);
      expect(rules.declaresBot(chrome)).toBe(false);
    }
  });
});
