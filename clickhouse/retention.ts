import type { ClickHouseClient } from '@clickhouse/client';
import { InvalidQueryError } from './query-errors.ts';
import { LOCAL_SUFFIX } from './cluster-schema.ts';
import { renderStatement } from './migrations.ts';
import { readClusterLayout } from './schema-layout.ts';

/** How long a tier keeps its rows: whole days, or `'forever'` (no TTL). */
export type RetentionDays = number | 'forever';

/** Retention of the three rollup tiers; each row lives at least this long after its time bucket. */
export interface RetentionPolicy {
  minuteDays: RetentionDays;
  hourDays: RetentionDays;
  dayDays: RetentionDays;
}

/** The design's tiers: minute rows 7 days, hour rows 90 days, day rows 3 years (1096 days, leap day included). */
export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = Object.freeze({ minuteDays: 7, hourDays: 90, dayDays: 1096 });

/** Longest finite retention accepted (100 years); beyond that, say `'forever'`. */
export const MAX_RETENTION_DAYS = 36_600;

const TIERS = [
  { table: 'views_minute', column: 'minute', key: 'minuteDays' },
  { table: 'views_hour', column: 'hour', key: 'hourDays' },
  { table: 'views_day', column: 'day', key: 'dayDays' },
] as const;

/** `'forever'` as a number of days, for comparisons. */
export function retentionDays(d: RetentionDays): number {
  return d === 'forever' ? Infinity : d;
}

/**
 * Checks a policy: whole days in 1..{@link MAX_RETENTION_DAYS} or `'forever'`, and no finer tier
 * kept longer than a coarser one (the dashboard queries fall back from fine to coarse rows, so a
 * coarse tier must cover at least what a fine one does).
 */
export function validateRetention(p: RetentionPolicy): RetentionPolicy {
  for (const { key } of TIERS) {
    const d = p[key];
    if (d === 'forever') continue;
    if (!Number.isInteger(d) || d < 1 || d > MAX_RETENTION_DAYS) {
      throw new InvalidQueryError(key, `expected whole days in 1..${MAX_RETENTION_DAYS} or 'forever', got ${JSON.stringify(d)}`);
    }
  }
  if (retentionDays(p.minuteDays) > retentionDays(p.hourDays)) throw new InvalidQueryError('minuteDays', 'must not exceed hourDays');
  if (retentionDays(p.hourDays) > retentionDays(p.dayDays)) throw new InvalidQueryError('hourDays', 'must not exceed dayDays');
  return { minuteDays: p.minuteDays, hourDays: p.hourDays, dayDays: p.dayDays };
}

/**
 * The DDL that gives each tier its retention. Only validated integers reach the statement text
 * (ClickHouse takes no bound parameters in a TTL clause).
 */
export function retentionStatements(policy: RetentionPolicy): string[] {
  const p = validateRetention(policy);
  return TIERS.map(({ table, column, key }) => {
    const d = p[key];
    return d === 'forever' ? `ALTER TABLE ${table} REMOVE TTL` : `ALTER TABLE ${table} MODIFY TTL ${column} + INTERVAL ${d} DAY`;
  });
}

/**
 * The retention the tables have now, read from their DDL (on a cluster, the shard tables' DDL: the
 * Distributed tables have no TTL); a tier without TTL is `'forever'`.
 */
export async function readRetention(client: ClickHouseClient): Promise<RetentionPolicy> {
  const rows = await (
    await client.query({
      query: `SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}`,
      query_params: { names: TIERS.flatMap(({ table }) => [table, `${table}${LOCAL_SUFFIX}`]) },
      format: 'JSONEachRow',
    })
  ).json<{ name: string; create_table_query: string }>();
  const ddl = new Map(rows.map((r) => [r.name, r.create_table_query]));
  const policy = { ...DEFAULT_RETENTION };
  for (const { table, column, key } of TIERS) {
    const create = ddl.get(`${table}${LOCAL_SUFFIX}`) ?? ddl.get(table);
    if (create === undefined) throw new Error(`table ${table} does not exist; run \`viewtally migrate\` first`);
    policy[key] = parseTtlDays(create, column, table);
  }
  return policy;
}

/** Days of a `TTL <column> + toIntervalDay(N)` clause in a CREATE statement; `'forever'` when there is no TTL. */
export function parseTtlDays(createTableQuery: string, column: string, table = 'table'): RetentionDays {
  const ttl = /\sTTL\s+(.+?)(?:\sSETTINGS\s|$)/s.exec(createTableQuery);
  if (!ttl) return 'forever';
  const m = new RegExp(`^\`?${column}\`?\\s*\\+\\s*toInterval(Day|Week|Month|Year)\\((\\d+)\\)\\s*$`).exec(ttl[1].trim());
  if (!m) throw new Error(`${table} has a TTL viewtally does not manage: ${ttl[1].trim()}`);
  // Lower bounds: readers use this to know which rows are certainly still there.
  const factor = { Day: 1, Week: 7, Month: 28, Year: 365 }[m[1] as 'Day' | 'Week' | 'Month' | 'Year'];
  return Number(m[2]) * factor;
}

/** What {@link applyRetention} did. */
export interface RetentionChange {
  before: RetentionPolicy;
  after: RetentionPolicy;
  /** The statements issued; tiers already at the asked retention are left alone. */
  statements: string[];
}

/**
 * Sets the retention of the rollup tiers (`ALTER TABLE … MODIFY TTL` / `REMOVE TTL`; on a cluster,
 * of the shard tables `ON CLUSTER`); tiers not named in `policy` keep the design's default. Parts
 * already past a shortened TTL are dropped by ClickHouse in the background (the ALTER materializes
 * the new TTL as a mutation).
 */
export async function applyRetention(client: ClickHouseClient, policy: Partial<RetentionPolicy> = {}): Promise<RetentionChange> {
  const after = validateRetention({ ...DEFAULT_RETENTION, ...policy });
  const before = await readRetention(client);
  const all = retentionStatements(after);
  const cluster = await readClusterLayout(client);
  const statements = all.filter((_, i) => before[TIERS[i].key] !== after[TIERS[i].key]).flatMap((s) => renderStatement(s, cluster));
  for (const query of statements) await client.command({ query });
  return { before, after, statements };
}
