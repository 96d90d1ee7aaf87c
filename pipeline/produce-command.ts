import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { resolveJobConfig, type ConnectionFlags } from './cli-config.ts';
import { withConnection } from './connection-flags.ts';
import type { ProduceInput } from './produce.ts';
import { parseJsonEvent } from '../schemas/json-event.ts';

interface ProduceFlags extends ConnectionFlags {
  file?: string;
  allowRejected?: boolean;
}

/**
 * `viewtally produce [--file F]`: JSONL view events → the topic as Avro. Rejected lines are
 * listed on stderr with their numbers and make the command fail, unless `--allow-rejected`.
 */
export function produceCommand(): Command {
  return withConnection(new Command('produce').description('send JSONL view events (file or stdin) to the topic as Avro'), ['brokers', 'topic'])
    .option('--file <path>', 'JSONL file (default: stdin)')
    .option('--partitions <n>', 'partitions when the topic is created (env VT_PARTITIONS)')
    .option('--allow-rejected', 'exit 0 even when some lines were rejected')
    .action(async (flags: ProduceFlags) => {
      const config = resolveJobConfig(flags);
      const { connectProducer, produceEvents } = await import('./produce.ts');
      const producer = await connectProducer({ brokers: config.brokers, topic: config.topic, partitions: config.partitions, clientId: 'viewtally-produce' });
      const lines = createInterface({ input: flags.file ? createReadStream(flags.file) : process.stdin, crlfDelay: Infinity });
      async function* inputs(): AsyncGenerator<ProduceInput> {
        let line = 0;
        for await (const text of lines) {
          line++;
          if (text.trim() === '') continue;
          try {
            yield { line, event: parseJsonEvent(text) };
          } catch (err) {
            yield { line, error: (err as Error).message };
          }
        }
      }
      let last = 0;
      const summary = await produceEvents(producer, config.topic, inputs(), {
        onProgress: (s) => {
          if (!process.stderr.isTTY || Date.now() - last < 1000) return;
          last = Date.now();
          process.stderr.write(`\rsent ${s.sent}, rejected ${s.rejected.length}`);
        },
      });
      await producer.disconnect();
      if (last > 0) process.stderr.write('\n');
      for (const r of summary.rejected.slice(0, 20)) console.error(`line ${r.line}: ${r.error}`);
      if (summary.rejected.length > 20) console.error(`… and ${summary.rejected.length - 20} more rejected lines`);
      console.log(JSON.stringify({ sent: summary.sent, rejected: summary.rejected.length }));
      if (summary.rejected.length > 0 && !flags.allowRejected) {
        throw new Error(`${summary.rejected.length} line(s) rejected, ${summary.sent} sent; --allow-rejected exits 0 when that is expected`);
      }
    });
}
