import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';

// kafkajs's response framing as patched in patches/kafkajs+*.patch: a plain socket reads into one
// buffer of its own (net's `onread`) and each response is copied into a buffer of its size as its
// bytes arrive. Unpatched, every read was a new buffer and every response a join of them: a fetch
// response was allocated twice. `run --until-idle` on a million events: scavenges forced by
// external memory 64 / 62 → 43 / 48.
const require = createRequire(import.meta.url);
const Connection = require('kafkajs/src/network/connection');
const socketFactory = require('kafkajs/src/network/socketFactory');

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const logger = { namespace: () => silent };

interface Answered {
  size: number;
  correlationId: number;
  payload: Buffer;
}

/** A connection whose answered responses are kept as handed over (not copied: a view of a reused buffer would show). */
function connection(port = 9) {
  const conn = new Connection({ host: '127.0.0.1', port, logger, socketFactory: socketFactory(), requestTimeout: 30_000, connectionTimeout: 5_000, enforceRequestTimeout: false });
  const answered: Answered[] = [];
  conn.requestQueue.fulfillRequest = (r: Answered) => answered.push(r);
  return { conn, answered };
}

/** A response as a broker frames it: size (of what follows), correlation id, payload. */
function frame(correlationId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + payload.length, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, payload]);
}

function payloadOf(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const PAYLOADS = [payloadOf(0, 1), payloadOf(10, 2), payloadOf(3_000, 3), payloadOf(200_000, 4), payloadOf(5, 5)];
const STREAM = Buffer.concat(PAYLOADS.map((p, i) => frame(100 + i, p)));

/** Feeds `stream` in reads of the given sizes through one buffer that is scribbled over after each read, as a socket's reused buffer is. */
function feed(conn: { processBytes(b: Buffer, start: number, end: number, reused: boolean): void }, stream: Buffer, sizes: () => number): void {
  const reused = Buffer.alloc(64 * 1024);
  for (let at = 0; at < stream.length; ) {
    const n = Math.min(sizes(), stream.length - at, reused.length);
    const start = 7; // bytes not at the buffer's start
    const fit = Math.min(n, reused.length - start);
    stream.copy(reused, start, at, at + fit);
    conn.processBytes(reused, start, start + fit, true);
    reused.fill(0xaa);
    at += fit;
  }
}

/** Waits until `done` holds, or 5 s (then the test's own assertions fail). */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5_000; !done() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
}

function expectAllAnswered(answered: Answered[]): void {
  expect(answered.map((a) => a.correlationId)).toEqual(PAYLOADS.map((_, i) => 100 + i));
  expect(answered.map((a) => a.size)).toEqual(PAYLOADS.map((p) => 4 + p.length));
  answered.forEach((a, i) => expect(a.payload.equals(PAYLOADS[i])).toBe(true));
}

describe('kafkajs response framing (patched)', () => {
  it.each([
    ['one byte at a time', () => 1],
    ['reads that split the size prefix', () => 3],
    ['small reads', () => 64],
    ['reads of 1 000 bytes', () => 1_000],
    ['whole reads of the socket buffer', () => 64 * 1024],
  ])('answers every response whole, in order, however the bytes are split: %s', (_, sizes) => {
    const { conn, answered } = connection();
    feed(conn, STREAM, sizes);
    expectAllAnswered(answered);
  });

  it('answers every response whole from reads of random sizes, several responses in one read', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed);
    for (let round = 0; round < 20; round++) {
      const { conn, answered } = connection();
      feed(conn, STREAM, () => 1 + (random() % 9_000));
      expectAllAnswered(answered);
    }
  });

  it('takes chunks from a socket that emits them (a custom socket factory) the same way', () => {
    const { conn, answered } = connection();
    for (let at = 0; at < STREAM.length; at += 777) conn.processData(STREAM.subarray(at, at + 777));
    expectAllAnswered(answered);
  });

  describe('over a real socket', () => {
    let server: Server | undefined;
    afterEach(() => server?.close());

    async function broker(onSocket: (s: Socket) => void): Promise<number> {
      server = createServer(onSocket);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return (server.address() as { port: number }).port;
    }

    it('reads into the socket buffer (no data events) and answers what the broker writes in awkward pieces', async () => {
      const port = await broker((s) => {
        // the prefix split, then the rest of the stream in uneven writes
        s.write(STREAM.subarray(0, 2));
        setTimeout(() => {
          for (let at = 2; at < STREAM.length; at += 50_001) s.write(STREAM.subarray(at, at + 50_001));
        }, 20);
      });
      const { conn, answered } = connection(port);
      let emitted = 0;
      const processData = conn.processData.bind(conn);
      conn.processData = (data: Buffer) => {
        emitted++;
        processData(data);
      };
      await conn.connect();
      await until(() => answered.length >= PAYLOADS.length);
      expectAllAnswered(answered);
      expect(emitted).toBe(0);
      conn.socket.destroy();
    });

    it('closes the connection, failing its requests, on a size no response can have (not a broker, or a corrupt stream)', async () => {
      const bad = Buffer.alloc(4);
      bad.writeInt32BE(-5, 0);
      const port = await broker((s) => s.write(Buffer.concat([bad, frame(8, PAYLOADS[1])])));
      const { conn, answered } = connection(port);
      const failures: string[] = [];
      conn.rejectRequests = (err: Error) => failures.push(err.message);
      await conn.connect();
      await until(() => failures.length > 0);
      expect(failures).toEqual([expect.stringContaining('invalid response size -5')]);
      expect(answered).toEqual([]);
      expect(conn.socket.destroyed).toBe(true);
    });

    it('drops what a closed socket left of a response when it connects again', async () => {
      const port = await broker((s) => s.write(frame(7, PAYLOADS[2])));
      const { conn, answered } = connection(port);
      feed(conn, frame(6, PAYLOADS[3]).subarray(0, 1_000), () => 1_000); // half a response, then the socket went
      await conn.connect();
      await until(() => answered.length >= 1);
      expect(answered.map((a) => a.correlationId)).toEqual([7]);
      expect(answered[0].payload.equals(PAYLOADS[2])).toBe(true);
      conn.socket.destroy();
    });
  });
});
