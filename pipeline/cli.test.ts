import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../infra/infra-paths.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/viewtally.mjs', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
const flagsOf = (help: string) => [...help.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]).sort();

describe('viewtally', () => {
  it('--version prints the package version', () => {
    const r = cli('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('lists only the connection flags each command uses', () => {
    expect(flagsOf(cli('sql', '--help').stdout)).toEqual(['--clickhouse', '--config', '--help', '--json']);
    expect(flagsOf(cli('migrate', '--help').stdout)).toEqual(['--clickhouse', '--cluster', '--config', '--help', '--print']);
    expect(flagsOf(cli('produce', '--help').stdout)).toEqual(['--allow-rejected', '--brokers', '--cluster', '--config', '--file', '--help', '--partitions', '--topic']);
    expect(flagsOf(cli('status', '--help').stdout)).toEqual(['--brokers', '--cluster', '--config', '--group', '--help', '--json', '--redis', '--topic']);
    expect(flagsOf(cli('run', '--help').stdout)).toEqual(
      ['--brokers', '--clickhouse', '--cluster', '--config', '--group', '--help', '--metrics-port', '--partitions', '--port', '--redis', '--serve', '--topic', '--until-idle', '--workers'].sort(),
    );
  });
});
