import { Command, Option } from 'commander';
import { resolveJobConfig, type ConnectionFlags } from './cli-config.ts';
import { withConnection } from './connection-flags.ts';
import { createClickHouseClient } from '../infra/clickhouse-client.ts';
import { exportRollup } from '../clickhouse/export.ts';
import type { Granularity } from '../clickhouse/time-plan.ts';

interface ExportFlags extends ConnectionFlags {
  granularity: Granularity;
  from: string;
  to: string;
  toDir?: string;
  toUrl?: string;
}

/**
 * `viewtally export --granularity day --from 2026-01-01 --to 2026-02-01 --to-dir DIR`: rollup
 * rows as Parquet files, one per partition, written by ClickHouse; progress on stderr, a JSON
 * summary on stdout. S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set.
 */
export function exportCommand(): Command {
  const command = new Command('export').description('write rollup rows [from, to) as Parquet files, one per partition, to a directory or an S3 URL');
  return withConnection(command, ['clickhouse'])
    .addOption(new Option('--granularity <g>', 'which rollup').choices(['minute', 'hour', 'day']).default('day'))
    .requiredOption('--from <time>', 'first row time, ISO-8601 (UTC when no offset), e.g. 2026-01-01')
    .requiredOption('--to <time>', 'end of the range, exclusive, e.g. 2026-02-01')
    .option('--to-dir <dir>', 'directory on the machine ClickHouse runs on')
    .option('--to-url <url>', 's3://bucket/prefix or https S3 URL, written through ClickHouse')
    .action(async (flags: ExportFlags) => {
      const config = resolveJobConfig(flags);
      const client = createClickHouseClient(config.clickhouse);
      const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = process.env;
      try {
        const summary = await exportRollup(client, {
          granularity: flags.granularity,
          from: flags.from,
          to: flags.to,
          toDir: flags.toDir,
          toUrl: flags.toUrl,
          s3: flags.toUrl && accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
          onProgress: ({ file, done, total }) => process.stderr.write(`[${done}/${total}] ${file.location}: ${file.rows} rows, ${file.views} views\n`),
        });
        console.log(JSON.stringify(summary));
      } finally {
        await client.close();
      }
    });
}
