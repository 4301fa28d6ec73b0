// The live dashboard (ws /dashboard): once a second, samples this server's counters, memory and event-loop lag plus a
// simulated price ticker, and publishes the sample through the hub, so every dashboard gets the same framed message.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Hub, type ServerOptions, type Stats, WebSocketServer } from '../src/index.js';

export const DEFAULT_DASHBOARD_INTERVAL = 1000;
/** How far back a newly (re)connected dashboard gets samples at once, so its charts come back whole: 5 minutes... */
const BACKLOG_MS = 5 * 60_000;
/** ...but never more samples than this (a short interval). */
const MAX_BACKLOG = 600;
const TOPIC = 'dashboard';

export interface DashboardSample {
  /** ms since the epoch */
  t: number;
  /** Open connections over all endpoints, and per endpoint. */
  connections: number;
  byEndpoint: Record<string, number>;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  bytesInPerSec: number;
  bytesOutPerSec: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Event-loop delay over the last interval, in ms. */
  loopLagMeanMs: number;
  loopLagMaxMs: number;
  prices: Record<string, number>;
}

export type DashboardEvent =
  /** On connect: the recent samples, the sampling interval (ms), and when this server started (ms since the epoch). */
  | { type: 'history'; samples: DashboardSample[]; interval: number; startedAt: number }
  | ({ type: 'sample' } & DashboardSample);

export interface DashboardOptions {
  /** The counters to show, by endpoint name (e.g. { echo: echoServer.stats, ... }). */
  endpoints: () => Record<string, Stats>;
  interval?: number;
  random?: () => number;
}

export interface DashboardApp {
  server: WebSocketServer;
  hub: Hub;
  close(): Promise<void>;
}

/** A random walk of a few made-up symbols: each step multiplies by e^(σ·N(0,1)). */
export function priceTicker(random: () => number = Math.random): () => Record<string, number> {
  const prices: Record<string, number> = { SWB: 100, ACME: 42, GLOBX: 250, INIT: 12.5 };
  const sigma = 0.004;
  const normal = (): number => {
    // Box–Muller
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return () => {
    for (const symbol of Object.keys(prices)) {
      prices[symbol] = Math.round(prices[symbol]! * Math.exp(sigma * normal()) * 100) / 100;
    }
    return { ...prices };
  };
}

export function createDashboard(serverOptions: ServerOptions, options: DashboardOptions): DashboardApp {
  const interval = options.interval ?? DEFAULT_DASHBOARD_INTERVAL;
  if (!Number.isFinite(interval) || interval < 10) throw new RangeError('dashboard interval must be at least 10 ms');
  // Clients only listen: anything they send is ignored, so it may be small.
  const server = new WebSocketServer({
    ...serverOptions,
    maxMessageSize: Math.min(serverOptions.maxMessageSize ?? 1024, 1024),
  });
  const hub = new Hub();
  const backlog: DashboardSample[] = [];
  const backlogSize = Math.min(MAX_BACKLOG, Math.ceil(BACKLOG_MS / interval));
  const startedAt = Date.now();
  const tick = priceTicker(options.random);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  const totals = (): { mi: number; mo: number; bi: number; bo: number } => {
    let mi = 0;
    let mo = 0;
    let bi = 0;
    let bo = 0;
    for (const s of Object.values(options.endpoints())) {
      mi += s.messagesIn;
      mo += s.messagesOut;
      bi += s.bytesIn;
      bo += s.bytesOut;
    }
    return { mi, mo, bi, bo };
  };
  // Counters start at zero with the servers (endpoints() is not called here: it may name this very server).
  let last = { at: performance.now(), mi: 0, mo: 0, bi: 0, bo: 0 };

  const sample = (): DashboardSample => {
    const now = performance.now();
    const cur = totals();
    const secs = Math.max((now - last.at) / 1000, 1e-3);
    const rate = (a: number, b: number): number => Math.round(((a - b) / secs) * 10) / 10;
    const byEndpoint: Record<string, number> = {};
    let connections = 0;
    for (const [name, s] of Object.entries(options.endpoints())) {
      byEndpoint[name] = s.connectionsOpen;
      connections += s.connectionsOpen;
    }
    const mem = process.memoryUsage();
    const ms = (ns: number): number => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0);
    const s: DashboardSample = {
      t: Date.now(),
      connections,
      byEndpoint,
      messagesInPerSec: rate(cur.mi, last.mi),
      messagesOutPerSec: rate(cur.mo, last.mo),
      bytesInPerSec: rate(cur.bi, last.bi),
      bytesOutPerSec: rate(cur.bo, last.bo),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      // Lag beyond the sampling resolution is what callbacks waited.
      loopLagMeanMs: Math.max(0, ms(lag.mean) - 10),
      loopLagMaxMs: Math.max(0, ms(lag.max) - 10),
      prices: tick(),
    };
    lag.reset();
    last = { at: now, ...cur };
    return s;
  };

  const timer = setInterval(() => {
    const s = sample();
    backlog.push(s);
    if (backlog.length > backlogSize) backlog.shift();
    // Publish after taking the sample, so its own bytes show up in the next one.
    if (hub.subscribers(TOPIC) > 0)
      hub.publish(TOPIC, JSON.stringify({ type: 'sample', ...s } satisfies DashboardEvent));
  }, interval);
  timer.unref();

  server.on('connection', (conn) => {
    conn.send(JSON.stringify({ type: 'history', samples: backlog, interval, startedAt } satisfies DashboardEvent));
    hub.subscribe(conn, TOPIC);
    // The dashboard only pushes; whatever a client sends is ignored.
  });

  return {
    server,
    hub,
    close: async () => {
      clearInterval(timer);
      lag.disable();
      await server.close();
      await hub.close();
    },
  };
}
