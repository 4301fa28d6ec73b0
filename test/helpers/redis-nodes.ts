// Nodes of a test cluster: a WebSocketServer + Hub + RedisAdapter each, clients that subscribe by URL (?topic=) and
// record what they receive, and a TCP proxy that can cut one node off Redis.
import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { TestContext } from 'node:test';
import { RedisAdapter, type RedisAdapterOptions } from '../../src/adapters/redis.js';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import type { HistoryStore } from '../../src/history.js';
import { Hub } from '../../src/hub.js';
import { WebSocketServer } from '../../src/server.js';
import { waitFor } from './redis-server.js';

export interface TestNode {
  hub: Hub;
  adapter: RedisAdapter;
  wss: WebSocketServer;
  url: string;
  errors: unknown[];
}

export async function startNode(
  t: TestContext,
  redisUrl: string,
  options: Omit<RedisAdapterOptions, 'url'> = {},
  history?: HistoryStore,
): Promise<TestNode> {
  const adapter = new RedisAdapter({ url: redisUrl, reconnect: { initialDelay: 20, maxDelay: 200 }, ...options });
  const errors: unknown[] = [];
  const hub = new Hub({ adapter, onAdapterError: (err) => errors.push(err), ...(history && { history }) });
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
  return { hub, adapter, wss, url: `ws://127.0.0.1:${port}`, errors };
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

/** A TCP proxy in front of Redis: cut() makes Redis unreachable for whoever dials the proxy; restore() undoes it. */
export interface Proxy {
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

export async function startProxy(t: TestContext, targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = async (): Promise<void> => {
    const srv = createServer((down) => {
      const up = tcpConnect(targetPort, '127.0.0.1');
      sockets.add(down);
      sockets.add(up);
      down.pipe(up).pipe(down);
      const end = (): void => {
        down.destroy();
        up.destroy();
        sockets.delete(down);
        sockets.delete(up);
      };
      down.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
    });
    srv.listen(port, '127.0.0.1');
    await once(srv, 'listening');
    const address = srv.address();
    if (typeof address === 'object' && address) port = address.port;
    server = srv;
  };
  const cut = async (): Promise<void> => {
    const srv = server;
    server = null;
    if (!srv) return;
    const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
    for (const s of sockets) s.destroy();
    sockets.clear();
    await closed;
  };
  await listen();
  t.after(cut);
  return { url: `redis://127.0.0.1:${port}`, cut, restore: listen };
}
