import type { ClickHouseClient } from '@clickhouse/client';

/** Why an event is not a view, in a few words, per outcome. */
const WHY: Record<string, string> = {
  counted: 'views',
  not_a_view: 'heartbeats, polls, page loads',
  too_short: 'watched too briefly',
  duplicate: 'retries and repeat views',
  bot: 'bots',
  owner: 'the owner watching',
  invalid: 'malformed',
  too_late: 'older than 7 days',
};

/** Events per outcome written since `sinceMs` (the outcome table has a row per minute, video and outcome). */
export async function outcomesSince(client: ClickHouseClient, sinceMs: number): Promise<Record<string, number>> {
  const rows = await (
    await client.query({
      query: 'SELECT outcome, sum(events) AS events FROM view_outcomes_minute WHERE minute >= {since:DateTime} GROUP BY outcome',
      query_params: { since: Math.floor(sinceMs / 60_000) * 60 },
      format: 'JSONEachRow',
    })
  ).json<{ outcome: string; events: string }>();
  return Object.fromEntries(rows.map((r) => [r.outcome, Number(r.events)]));
}

/** One line saying what became of the events: `counted 16 % (views) · not_a_view 41 % (heartbeats, …) · …`, largest share first after counted. */
export function outcomeMixLine(counts: Record<string, number>): string {
  const total = Object.values(counts).reduce((s, n) => s + n, 0);
  if (total === 0) return 'outcomes: none written yet (a minute is written once it is over)';
  const pct = (n: number) => `${n / total >= 0.1 ? Math.round((100 * n) / total) : ((100 * n) / total).toFixed(1)} %`;
  const others = Object.entries(counts)
    .filter(([outcome, n]) => outcome !== 'counted' && n > 0)
    .sort((a, b) => b[1] - a[1]);
  const parts = [['counted', counts.counted ?? 0] as const, ...others].map(([outcome, n]) => `${outcome} ${pct(n)} (${WHY[outcome] ?? outcome})`);
  return `outcomes of ${total} events: ${parts.join(' · ')}`;
}
