import { readFileSync } from 'node:fs';
import { defaultJobConfig, type JobConfig } from './config.ts';

/** A JSON configuration file's settings: any part of the job's configuration. */
export type ConfigOverrides = { [K in keyof JobConfig]?: JobConfig[K] extends object ? Partial<JobConfig[K]> : JobConfig[K] };

/**
 * Reads a JSON configuration file and checks every key and type against the job's
 * configuration: an unknown key or a wrong type is an error naming its path.
 */
export function loadConfigFile(path: string): ConfigOverrides {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`config file ${path}: ${(err as Error).message}`);
  }
  check(value, defaultJobConfig(), path, '');
  return value as ConfigOverrides;
}

function check(value: unknown, shape: unknown, file: string, at: string): void {
  const where = at === '' ? file : `${file}: ${at}`;
  if (Array.isArray(shape)) {
    if (!Array.isArray(value) || value.some((v) => typeof v !== typeof shape[0])) throw new Error(`${where} must be an array of ${typeof shape[0]}s`);
    return;
  }
  if (shape !== null && typeof shape === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} must be an object`);
    for (const [key, v] of Object.entries(value)) {
      if (!(key in shape)) throw new Error(`${file}: unknown setting ${at === '' ? key : `${at}.${key}`} (known: ${Object.keys(shape).join(', ')})`);
      check(v, (shape as Record<string, unknown>)[key], file, at === '' ? key : `${at}.${key}`);
    }
    return;
  }
  if (typeof value !== typeof shape || (typeof value === 'number' && !(Number.isFinite(value) && value >= 0))) {
    throw new Error(`${where} must be a ${typeof shape === 'number' ? 'non-negative number' : typeof shape}`);
  }
}

/** Applies a file's settings over a configuration, one level deep for the grouped rules. */
export function applyOverrides(config: JobConfig, o: ConfigOverrides): JobConfig {
  return { ...config, ...o, view: { ...config.view, ...o.view }, time: { ...config.time, ...o.time } } as JobConfig;
}
