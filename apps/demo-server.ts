// The demo server behind `switchboard serve`: ws /echo and ws /broadcast (a stable contract for conformance suites and
// load generators), plus the demo pages. Built only from the public API, like a user's app.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CompressionOption, Hub, type OriginPolicy, WebSocketServer } from '../src/index.js';

export interface DemoOptions {
  host: string;
  port: number;
  maxMessageSize: number;
  compression: CompressionOption;
  /** Extra origins allowed besides the page's own; ['*'] allows any. */
  origins: string[];
  shutdownTimeout: number;
}

export interface DemoServer {
  url: string;
  port: number;
  http: Server;
  connections(): number;
  close(): Promise<void>;
}

export async function startDemoServer(options: DemoOptions): Promise<DemoServer> {
  const origins = originPolicy(options.origins);
  const common = {
    origins,
    maxMessageSize: options.maxMessageSize,
    compression: options.compression,
    shutdownTimeout: options.shutdownTimeout,
  };
  const echo = new WebSocketServer(common);
  echo.on('connection', (conn) => {
    conn.on('message', (msg) => conn.send(msg.data));
  });

  // /broadcast: every message from any client goes to all clients, the sender included, in order; framed once.
  const hub = new Hub();
  const broadcast = new WebSocketServer(common);
  broadcast.on('connection', (conn) => {
    hub.subscribe(conn, 'broadcast');
    conn.on('message', (msg) => hub.publish('broadcast', msg));
  });

  const http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  echo.attach(http, { path: '/echo' });
  broadcast.attach(http, { path: '/broadcast' });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const servers = [echo, broadcast];
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    http,
    connections: () => servers.reduce((n, s) => n + s.clients.size, 0),
    close: async () => {
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      await Promise.all(servers.map((s) => s.close()));
      http.closeAllConnections();
      await httpClosed;
    },
  };
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
