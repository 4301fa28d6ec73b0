// The demo server behind `switchboard serve`: ws /echo and ws /broadcast (a stable contract for conformance suites and
// load generators), the chat (GET / + ws /chat), the live dashboard (GET /dashboard + ws /dashboard) and GET /metrics.
// Built only from the public API, like a user's app.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CompressionOption,
  Hub,
  type HeartbeatOptions,
  type HistoryStore,
  type HubAdapter,
  type HubOptions,
  type OriginPolicy,
  type SlowConsumerPolicy,
  type Stats,
  WebSocketServer,
} from '../src/index.js';
import { createChat } from './chat.js';
import { CHAT_LIMITS } from './chat-protocol.js';
import { createDashboard } from './dashboard.js';
import { createMetrics, loadPromClient, MISSING_PROM_CLIENT, type PromClientLoader } from './metrics.js';
import { defaultPublicDir, staticFiles } from './static.js';

export interface DemoOptions {
  host: string;
  port: number;
  maxMessageSize: number;
  compression: CompressionOption;
  /** Extra origins allowed besides the page's own; ['*'] allows any. */
  origins: string[];
  shutdownTimeout: number;
  /** Every endpoint's heartbeat (the library's default when omitted); false turns it off. */
  heartbeat?: HeartbeatOptions | false;
  /** Every endpoint's cap on bytes waiting for one peer, and what happens above it (library defaults when omitted). */
  maxBufferedBytes?: number;
  onSlowConsumer?: SlowConsumerPolicy;
  /** How often the dashboard publishes a sample, in ms (default 1000). */
  dashboardInterval?: number;
  /** Where the pages live (default apps/public). */
  publicDir?: string;
  /** A Redis URL: this server is then one node of a cluster, its /broadcast and chat rooms shared through Redis. */
  redis?: string;
  /** Where notices go, one line each (default: stderr); e.g. that /metrics is off without prom-client. */
  log?: (line: string) => void;
  /** How /metrics loads prom-client (tests inject one that finds nothing). */
  promClient?: PromClientLoader;
}

export interface DemoServer {
  url: string;
  port: number;
  http: Server;
  connections(): number;
  /** Each endpoint's server counters, by endpoint name. */
  stats(): Record<string, Stats>;
  close(): Promise<void>;
}

export async function startDemoServer(options: DemoOptions): Promise<DemoServer> {
  const origins = originPolicy(options.origins);
  const common = {
    origins,
    maxMessageSize: options.maxMessageSize,
    compression: options.compression,
    shutdownTimeout: options.shutdownTimeout,
    ...(options.heartbeat !== undefined && { heartbeat: options.heartbeat }),
    ...(options.maxBufferedBytes !== undefined && { maxBufferedBytes: options.maxBufferedBytes }),
    ...(options.onSlowConsumer !== undefined && { onSlowConsumer: options.onSlowConsumer }),
  };
  // Loaded before anything listens (a failure then leaves nothing open); scraped only once everything is up.
  const metrics = await createMetrics(
    {
      endpoints: () => endpoints(),
      hubs: () => ({ broadcast: hub.stats, chat: chat.hub.stats, dashboard: dashboard.hub.stats }),
    },
    options.promClient ?? loadPromClient,
  );
  if (!metrics.available) (options.log ?? ((line) => process.stderr.write(`${line}\n`)))(MISSING_PROM_CLIENT);
  const echo = new WebSocketServer(common);
  echo.on('connection', (conn) => {
    conn.on('message', (msg) => conn.send(msg.data));
  });

  // One Redis adapter per hub; loaded only when asked for, so `redis` stays an optional peer dependency.
  const cluster = options.redis ? await clusterAdapters(options.redis) : null;
  const hubOptions = (): HubOptions => (cluster ? { adapter: cluster() } : {});

  // /broadcast: every message from any client goes to all clients, the sender included, in order; framed once.
  const hub = new Hub(hubOptions());
  const broadcast = new WebSocketServer(common);
  broadcast.on('connection', (conn) => {
    hub.subscribe(conn, 'broadcast');
    conn.on('message', (msg) => hub.publish('broadcast', msg));
  });

  // Chat rooms: shared through Redis too, with their history in Redis Streams so any node can recover a room.
  const chat = createChat(common, cluster ? { hub: { adapter: cluster(), history: cluster.history() } } : {});
  const endpoints = (): Record<string, Stats> => ({
    echo: echo.stats,
    broadcast: broadcast.stats,
    chat: chat.server.stats,
    dashboard: dashboard.server.stats,
  });
  const dashboard = createDashboard(common, {
    endpoints,
    ...(options.dashboardInterval !== undefined && { interval: options.dashboardInterval }),
  });
  const serveFile = staticFiles(options.publicDir ?? defaultPublicDir(), {
    '/': '/chat.html',
    '/dashboard': '/dashboard.html',
  });

  // A request head must arrive within 10 s, checked every second (node's default check runs every 30 s).
  const http = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/health') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
        return;
      }
      const endpoint =
        path === '/echo' ? echo : path === '/broadcast' ? broadcast : path === '/chat' ? chat.server : null;
      if (endpoint) {
        endpoint.handleRequest(req, res);
        return;
      }
      if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
        // 501: this server does not implement the resource until prom-client is installed.
        const status = metrics.available ? 200 : 501;
        metrics.render().then(
          (text) =>
            res
              .writeHead(status, { 'Content-Type': metrics.contentType })
              .end(req.method === 'HEAD' ? undefined : text),
          () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics failed\n'),
        );
        return;
      }
      serveFile(req, res).then(
        (served) => {
          if (!served) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        },
        () => {
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end('error\n');
        },
      );
    },
  );
  echo.attach(http, { path: '/echo' });
  broadcast.attach(http, { path: '/broadcast' });
  chat.server.attach(http, { path: '/chat' });
  dashboard.server.attach(http, { path: '/dashboard' });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const servers = [echo, broadcast, chat.server, dashboard.server];
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    http,
    connections: () => servers.reduce((n, s) => n + s.clients.size, 0),
    stats: endpoints,
    close: async () => {
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      await Promise.all([echo.close(), broadcast.close(), chat.close(), dashboard.close()]);
      await hub.close(); // releases its Redis connections, if any
      http.closeAllConnections();
      await httpClosed;
    },
  };
}

async function clusterAdapters(url: string): Promise<{ (): HubAdapter; history(): HistoryStore }> {
  const { redisAdapter, redisHistory } = await import('../src/adapters/redis.js');
  return Object.assign(() => redisAdapter({ url }), {
    history: () => redisHistory({ url, maxCount: CHAT_LIMITS.historyPerRoom }),
  });
}

function originPolicy(extra: string[]): OriginPolicy {
  if (extra.includes('*')) return '*';
  if (extra.length === 0) return 'same-origin';
  const list = extra.map((o) => new URL(o).origin);
  return (origin, host) => {
    try {
      const o = new URL(origin);
      return o.host.toLowerCase() === host.toLowerCase() || list.includes(o.origin);
    } catch {
      return false;
    }
  };
}
