// The demo server behind `switchboard serve`: ws /echo and ws /broadcast (a stable contract for conformance suites and
// load generators), the chat (GET / + ws /chat), the live dashboard (GET /dashboard + ws /dashboard) and GET /metrics.
// Built only from the public API, like a user's app. With `tls`, all of it over HTTPS, HTTP/2 and HTTP/1.1 on one port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import {
  type CompressionOption,
  type Connection,
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
  /** PEM certificate and key: HTTPS with HTTP/2 (WebSockets as RFC 8441 streams) and HTTP/1.1 on the same port. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface DemoServer {
  url: string;
  port: number;
  http: Server | Http2SecureServer;
  connections(): number;
  /** Open WebSockets by what carries them: HTTP/2 streams ('h2') or HTTP/1.1 connections ('http/1.1'). */
  transports(): Record<'h2' | 'http/1.1', number>;
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
      transports: () => transports(),
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
    transports: () => transports(),
    ...(options.dashboardInterval !== undefined && { interval: options.dashboardInterval }),
  });
  // Counted per carrier when /metrics or the dashboard asks: a WebSocket over HTTP/2 (it arrives with an HTTP/2
  // request) is remembered in a WeakSet, the other open ones are HTTP/1.1. No listener or closure per connection:
  // that cost every idle connection ~0.5 KiB.
  const endpointServers = [echo, broadcast, chat.server, dashboard.server];
  const overH2 = new WeakSet<Connection>();
  for (const server of endpointServers) {
    server.on('connection', (conn, req) => {
      if (req.httpVersionMajor === 2) overH2.add(conn);
    });
  }
  const transports = (): Record<'h2' | 'http/1.1', number> => {
    let open = 0;
    let h2 = 0;
    for (const server of endpointServers) {
      for (const conn of server.clients) {
        open++;
        if (overH2.has(conn)) h2++;
      }
    }
    return { h2, 'http/1.1': open - h2 };
  };
  const serveFile = staticFiles(options.publicDir ?? defaultPublicDir(), {
    '/': '/chat.html',
    '/dashboard': '/dashboard.html',
  });

  // A request head must arrive within 10 s, checked every second (node's default check runs every 30 s).
  const limits = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };
  // Over TLS, HTTP/2 and HTTP/1.1 requests share the handler (node's compatibility API has the same shape).
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
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
          res.writeHead(status, { 'Content-Type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
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
  };
  const http = options.tls
    ? Object.assign(
        createSecureServer(
          { ...options.tls, allowHTTP1: true },
          handle as unknown as Parameters<typeof createSecureServer>[1],
        ),
        limits,
      )
    : createServer(limits, handle);
  // Sessions and HTTP/1.1 sockets of the TLS server, ended at close (it has no closeAllConnections()).
  const sockets = new Set<Socket>();
  http.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  echo.attach(http, { path: '/echo' });
  broadcast.attach(http, { path: '/broadcast' });
  chat.server.attach(http, { path: '/chat' });
  dashboard.server.attach(http, { path: '/dashboard' });

  const closeApps = async (): Promise<void> => {
    await Promise.all([echo.close(), broadcast.close(), chat.close(), dashboard.close()]);
    await hub.close(); // releases its Redis connections, if any
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, options.host, () => resolve());
    });
  } catch (err) {
    // Nothing listens, but the hubs' Redis connections and the dashboard's timers would keep the process alive.
    await closeApps();
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${hostForUrl}:${port}`,
    port,
    http,
    connections: () => endpointServers.reduce((n, s) => n + s.clients.size, 0),
    transports,
    stats: endpoints,
    close: async () => {
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      await closeApps();
      if ('closeAllConnections' in http) http.closeAllConnections();
      for (const socket of sockets) socket.destroy();
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
