/**
 * Load on the read API from a process of its own (autocannon's programmatic API), so the load
 * generator does not share an event loop with the server it measures:
 *
 *   node --import tsx bench/api-load-child.ts '<json>'   json = { url, ids, rate, seconds, connections, warmupSeconds }
 *
 * Requests cycle through `ids` as `GET /v1/videos/{id}/views` at a fixed overall rate (latency
 * corrected for coordinated omission), after `warmupSeconds` of the same load that is not
 * measured: a server that has just started is still compiling its request path, and the
 * figure wanted is a running server's. Prints autocannon's result, trimmed, as one JSON line.
 */
import autocannon from 'autocannon';

const args = JSON.parse(process.argv[2] ?? '{}') as { url: string; ids: string[]; rate: number; seconds: number; connections: number; warmupSeconds: number };
let next = 0;
const result = await autocannon({
  url: args.url,
  connections: args.connections,
  overallRate: args.rate,
  duration: args.seconds,
  ...(args.warmupSeconds > 0 ? { warmup: { duration: args.warmupSeconds } } : {}),
  requests: [
    {
      method: 'GET',
      setupRequest: (req) => ({ ...req, path: `/v1/videos/${encodeURIComponent(args.ids[next++ % args.ids.length])}/views` }),
    },
  ],
});
const { latency, requests } = result;
console.log(
  JSON.stringify({
    requests: result.requests.total,
    requestsPerSecond: requests.average,
    seconds: result.duration,
    latencyMs: { p50: latency.p50, p90: latency.p90, p99: latency.p99, p999: latency.p99_9, max: latency.max, mean: latency.mean },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }),
);
