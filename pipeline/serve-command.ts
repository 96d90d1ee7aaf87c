import { Command } from 'commander';
import { resolveJobConfig, type ConnectionFlags } from './cli-config.ts';
import { createLogger } from './logger.ts';
import { withConnection } from './connection-flags.ts';
import { PORT_RANGE, parseIntegerOption } from './integer-option.ts';
import { stopRequest, whenStopped } from './stop-request.ts';

interface ServeFlags extends ConnectionFlags {
  port?: string;
  host?: string;
  corsOrigins?: string;
  beaconRate?: string;
  trustProxy?: boolean;
  collector: boolean;
  liveCacheMs?: string;
}

/** `viewtally serve`: the read API, the beacon collector and the dashboard on one port. */
export function serveCommand(): Command {
  const serve = new Command('serve').description(
    'HTTP API: live counts, creator analytics, admin routes, beacon collector, dashboard (admin token: env VT_ADMIN_TOKEN or VT_ADMIN_TOKEN_FILE)',
  );
  return withConnection(serve, ['brokers', 'topic', 'group', 'clickhouse', 'redis'])
    .option('--port <n>', 'port to listen on (env VT_PORT)', process.env.VT_PORT ?? '8080')
    .option('--host <addr>', 'address to listen on (env VT_HOST)', process.env.VT_HOST ?? '127.0.0.1')
    .option('--cors-origins <list>', 'player origins allowed to call the API from a browser, comma separated, or * (env VT_CORS_ORIGINS)', process.env.VT_CORS_ORIGINS)
    .option('--beacon-rate <n>', 'beacon requests per client IP and minute (env VT_BEACON_RATE)', process.env.VT_BEACON_RATE ?? '120')
    .option('--trust-proxy', 'take the client address from X-Forwarded-For (behind a load balancer; env VT_TRUST_PROXY=1)', process.env.VT_TRUST_PROXY === '1')
    .option('--live-cache-ms <n>', 'how long one video\'s live count is reused, 0..999 ms (env VT_LIVE_CACHE_MS)', process.env.VT_LIVE_CACHE_MS ?? '250')
    .option('--no-collector', 'serve without the beacon collector (no Kafka connection)')
    .action(async (flags: ServeFlags) => {
      const port = parseIntegerOption('--port', flags.port, PORT_RANGE) ?? 8080;
      const beaconRate = parseIntegerOption('--beacon-rate', flags.beaconRate, { min: 1, max: 1_000_000 }) ?? 120;
      const liveCacheMs = parseIntegerOption('--live-cache-ms', flags.liveCacheMs, { min: 0, max: 999 }) ?? 250;
      const config = resolveJobConfig(flags);
      const log = createLogger('viewtally-serve');
      const { startApi } = await import('./start-api.ts');
      const api = await startApi(config, {
        port,
        host: flags.host ?? '127.0.0.1',
        corsOrigins: (flags.corsOrigins ?? '').split(',').map((o) => o.trim()).filter(Boolean),
        beaconRatePerMinute: beaconRate,
        trustProxy: Boolean(flags.trustProxy),
        collector: Boolean(flags.collector),
        liveCacheMs,
        log,
      });
      console.log(`listening on ${api.address}`);

      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping: finish requests in flight, close clients');
        setTimeout(() => process.exit(1), 10_000).unref();
        await api.close();
        process.exit(0);
      };
      whenStopped(() => void stop(String(stopRequest.reason)));
    });
}
