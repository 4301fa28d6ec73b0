// Nodes of a test cluster: a WebSocketServer + Hub + RedisAdapter each (recording adapter errors and gap reports),
// clients that subscribe by URL (?topic=) and record what they receive, and a TCP proxy that can cut one node off
// Redis or stall it (connections stay open, nothing gets through).
import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { TestContext } from 'node:test';
import { RedisAdapter, type RedisAdapterOptions } from '../../src/adapters/redis.js';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import type { HistoryStore } from '../../src/history.js';
import { type GapInfo, Hub } from '../../src/hub.js';
import { WebSocketServer } from '../../src/server.js';
import { waitFor } from './redis-server.js';

export interface TestNode {
  hub: Hub;
  adapter: RedisAdapter;
  wss: WebSocketServer;
  url: string;
  errors: unknown[];
  gaps: Array<{ topic: string } & GapInfo>;
}

export async function startNode(
  t: TestContext,
  redisUrl: string,
  options: Omit<RedisAdapterOptions, 'url'> = {},
  history?: HistoryStore,
): Promise<TestNode> {
  const adapter = new RedisAdapter({ url: redisUrl, reconnect: { initialDelay: 20, maxDelay: 200 }, ...options });
  const errors: unknown[] = [];
  const gaps: TestNode['gaps'] = [];
  const hub = new Hub({
    adapter,
    onAdapterError: (err) => errors.push(err),
    onGap: (topic, info) => gaps.push({ topic, ...info }),
    ...(history && { history }),
  });
  const wss = new WebSocketServer({ heartbeat: false });
  wss.on('connection', (conn, req) => {
    const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic');
    if (topic) hub.subscribe(conn, topic);
  });
  const { port } = await wss.listen(0, '127.0.0.1');
  t.after(async () => {
    await wss.close();
    await hub.close();
  });
  await hub.ready();
  return { hub, adapter, wss, url: `ws://127.0.0.1:${port}`, errors, gaps };
}

export interface TestClient {
  conn: Connection;
  messages: Message[];
  /** Resolves once `n` messages have arrived (fails after a deadline). */
  received(n: number, timeoutMs?: number): Promise<void>;
}

export async function client(t: TestContext, node: TestNode, topic: string): Promise<TestClient> {
  const before = node.hub.subscribers(topic);
  const conn = await connect(`${node.url}/?topic=${encodeURIComponent(topic)}`, { maxMessageSize: 1 << 24 });
  const messages: Message[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  conn.on('message', (msg) => {
    messages.push(msg);
    for (const w of [...waiters]) {
      if (messages.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  t.after(() => conn.terminate());
  // The server subscribes on 'connection'; wait until the hub has counted this one.
  await waitFor(`subscriber on ${topic}`, () => node.hub.subscribers(topic) > before);
  return {
    conn,
    messages,
    received: (n, timeoutMs = 10_000) => {
      if (messages.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out with ${messages.length} of ${n} messages`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

export function text(messages: Message[]): string[] {
  return messages.map((m) => (m.type === 'text' ? m.data : `<binary ${m.data.length}>`));
}

/**
 * A TCP proxy in front of Redis: cut() makes Redis unreachable for whoever dials the proxy (connections reset, new ones
 * refused); stall() plays a Redis that hangs (connections stay open and new ones are accepted, but no byte gets
 * through either way); restore() undoes either.
 */
export interface Proxy {
  url: string;
  cut(): Promise<void>;
  stall(): void;
  restore(): Promise<void>;
}

interface Pair {
  down: Socket;
  up: Socket | null;
}

export async function startProxy(t: TestContext, targetPort: number): Promise<Proxy> {
  const pairs = new Set<Pair>();
  let server: Server | null = null;
  let stalled = false;
  let port = 0;
  const end = (pair: Pair): void => {
    pair.down.destroy();
    pair.up?.destroy();
    pairs.delete(pair);
  };
  const forward = (pair: Pair): void => {
    if (!pair.up) {
      const up = tcpConnect(targetPort, '127.0.0.1');
      pair.up = up;
      up.on('error', () => end(pair)).on('close', () => end(pair));
    }
    pair.down.pipe(pair.up).pipe(pair.down);
  };
  const listen = async (): Promise<void> => {
    const srv = createServer((down) => {
      const pair: Pair = { down, up: null };
      pairs.add(pair);
      down.on('error', () => end(pair)).on('close', () => end(pair));
      if (stalled) down.pause();
      else forward(pair);
    });
    srv.listen(port, '127.0.0.1');
    await once(srv, 'listening');
    const address = srv.address();
    if (typeof address === 'object' && address) port = address.port;
    server = srv;
  };
  const cut = async (): Promise<void> => {
    stalled = false;
    const srv = server;
    server = null;
    if (!srv) return;
    const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
    for (const pair of [...pairs]) end(pair);
    await closed;
  };
  const stall = (): void => {
    stalled = true;
    for (const { down, up } of pairs) {
      down.unpipe();
      up?.unpipe();
      down.pause();
      up?.pause();
    }
  };
  const restore = async (): Promise<void> => {
    if (stalled) {
      stalled = false;
      for (const pair of pairs) forward(pair);
    }
    if (!server) await listen();
  };
  await listen();
  t.after(cut);
  return { url: `redis://127.0.0.1:${port}`, cut, stall, restore };
}
