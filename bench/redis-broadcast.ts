// Cross-node broadcast throughput through the Redis adapter: deliveries/s with every subscriber on 1 node versus the
// same subscribers split over 2 nodes (half of each publish crosses Redis). Starts its own redis-server.
// Run: npm run build && node dist/bench/redis-broadcast.js [--clients 200] [--messages 2000] [--size 64] [--json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { RedisAdapter } from '../src/adapters/redis.js';
import { connect } from '../src/client.js';
import type { Connection } from '../src/connection/connection.js';
import { Hub } from '../src/hub.js';
import { WebSocketServer } from '../src/server.js';
import type { CrossNodeResult } from './lib/render.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (typeof addr !== 'object' || !addr) throw new Error('no port');
  return addr.port;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-redis-'));
  const port = await freePort();
  const bin = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
  const proc = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  await until(
    'redis-server up',
    async () => {
      const c = createClient({ url, socket: { reconnectStrategy: false } });
      c.on('error', () => {});
      try {
        await c.connect();
        return true;
      } catch {
        return false;
      } finally {
        c.destroy();
      }
    },
    10_000,
  );
  return {
    url,
    stop: () => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function run(
  redisUrl: string,
  nodeCount: number,
  clients: number,
  messages: number,
  size: number,
): Promise<CrossNodeResult> {
  const nodes: Array<{ hub: Hub; wss: WebSocketServer; port: number }> = [];
  for (let i = 0; i < nodeCount; i++) {
    const hub = new Hub({ adapter: new RedisAdapter({ url: redisUrl, maxBuffered: messages }) });
    await hub.ready();
    const wss = new WebSocketServer({ heartbeat: false });
    wss.on('connection', (conn) => hub.subscribe(conn, 'bench'));
    const { port } = await wss.listen(0, '127.0.0.1');
    nodes.push({ hub, wss, port });
  }
  let received = 0;
  const conns: Connection[] = [];
  for (let i = 0; i < clients; i++) {
    const conn = await connect(`ws://127.0.0.1:${nodes[i % nodeCount]!.port}/`);
    conn.on('message', () => {
      received++;
    });
    conns.push(conn);
  }
  await until('all subscribed', () => nodes.reduce((n, x) => n + x.hub.subscribers('bench'), 0) === clients, 10_000);
  const probe = createClient({ url: redisUrl });
  await probe.connect();
  await until(
    'every node on the channel',
    async () =>
      Number(((await probe.sendCommand(['PUBSUB', 'NUMSUB', 'switchboard:bench'])) as [string, number])[1]) >=
      nodeCount,
    10_000,
  );
  probe.destroy();

  const payload = Buffer.alloc(size, 0x61);
  const expected = clients * messages;
  const start = process.hrtime.bigint();
  // Publish from node 0 in slices, yielding between them so sockets drain (as a real server's event loop would).
  for (let sent = 0; sent < messages; ) {
    for (let k = 0; k < 100 && sent < messages; k++, sent++) nodes[0]!.hub.publish('bench', payload, { binary: false });
    await new Promise((r) => setImmediate(r));
  }
  await until(`${expected} deliveries`, () => received >= expected, 120_000);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  for (const c of conns) c.terminate();
  for (const n of nodes) {
    await n.wss.close();
    await n.hub.close();
  }
  return {
    nodes: nodeCount,
    clients,
    messages,
    size,
    deliveries: received,
    ms,
    deliveriesPerSec: Math.round((received / ms) * 1000),
  };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<CrossNodeResult[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '200' },
      messages: { type: 'string', default: '2000' },
      size: { type: 'string', default: '64' },
      json: { type: 'boolean', default: false },
    },
  });
  const clients = Number(values.clients);
  const messages = Number(values.messages);
  const size = Number(values.size);
  const redis = await startRedis();
  try {
    const results: CrossNodeResult[] = [];
    for (const nodeCount of [1, 2]) results.push(await run(redis.url, nodeCount, clients, messages, size));
    if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
    else {
      for (const r of results) {
        process.stdout.write(
          `redis-broadcast nodes=${r.nodes} clients=${r.clients} messages=${r.messages} size=${r.size}B: ` +
            `${r.deliveries} deliveries in ${r.ms.toFixed(0)} ms = ${r.deliveriesPerSec.toLocaleString('en')} deliveries/s\n`,
        );
      }
    }
    return results;
  } finally {
    redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`redis-broadcast: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
