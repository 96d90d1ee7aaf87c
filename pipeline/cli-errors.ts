import { ClickHouseError } from '@clickhouse/client';

/** Node's codes for "nothing answers there". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN']);
const MAX_LINE = 300;

/** Where the local services are, to name the one that did not answer. */
export interface KnownServices {
  brokers: string[];
  redis: string;
  clickhouse: string;
}

type ErrorLike = Error & { code?: unknown; address?: unknown; port?: unknown; broker?: unknown; type?: unknown; cause?: unknown };

function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  for (let e = err; e instanceof Error && out.length < 10 && !out.includes(e as ErrorLike); e = (e as ErrorLike).cause) out.push(e as ErrorLike);
  return out;
}

function hostPort(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function serviceAt(address: string, kafkaError: boolean, known: KnownServices | undefined): string {
  if (kafkaError) return 'Kafka';
  if (known?.brokers.includes(address)) return 'Kafka';
  if (known && hostPort(known.redis) === address) return 'Redis';
  if (known && hostPort(known.clickhouse) === address) return 'ClickHouse';
  return 'a service';
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= MAX_LINE) return line;
  const cut = line.lastIndexOf(' ', MAX_LINE);
  return `${line.slice(0, cut > MAX_LINE / 2 ? cut : MAX_LINE)} …`;
}

/**
 * The lines a command prints when it fails, one per error: the cause in a sentence, and when a
 * service does not answer, which one and how to start the local ones. Several failures (an
 * `infra up` whose services each failed) are paragraphs of one message; each gives its first line.
 */
export function errorLines(err: unknown, known?: KnownServices): string[] {
  const errors = chain(err);
  if (errors.length === 0) return [oneLine(String(err))];
  const kafkaError = errors.some((e) => e.name.startsWith('KafkaJS'));
  const down = errors.find((e) => (typeof e.code === 'string' && UNREACHABLE.has(e.code)) || e.name === 'KafkaJSConnectionError');
  if (down) {
    const address =
      typeof down.address === 'string' && down.port !== undefined
        ? `${down.address}:${String(down.port)}`
        : typeof down.broker === 'string'
          ? down.broker
          : (/([\w.-]+:\d+)/.exec(down.message)?.[1] ?? 'its address');
    const why = typeof down.code === 'string' ? down.code : oneLine(down.message);
    return [`cannot reach ${serviceAt(address, kafkaError, known)} at ${address} (${why}); start the local services with \`viewtally infra up\` (\`viewtally infra status\` shows what runs)`];
  }
  const top = errors[0];
  if (top instanceof ClickHouseError) return [`ClickHouse: ${oneLine(top.message)}`];
  if (errors.some((e) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION')) return [`Kafka: the topic does not exist (yet): \`viewtally produce\` or \`viewtally run\` creates it`];
  return top.message
    .split(/\n\s*\n/)
    .map((paragraph) => oneLine(paragraph.trim().split('\n')[0]))
    .filter((line) => line !== '');
}
