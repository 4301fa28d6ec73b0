// GET /metrics in the Prometheus text format: each endpoint's server counters with an `endpoint` label, the hubs'
// counters, and the default process metrics. prom-client is an optional peer dependency, loaded only here, when the
// demo starts: without it the demo runs and /metrics says how to enable it.
import type * as PromClient from 'prom-client';
import type { HubStats, Stats } from '../src/index.js';

type StatKey = Exclude<keyof Stats, 'snapshot'>;
type HubKey = keyof HubStats;

/** Process metrics are per process: one registry for them, however many demo servers a process starts. */
let processRegistry: PromClient.Registry | null = null;
function defaultMetrics(prom: typeof PromClient): PromClient.Registry {
  if (!processRegistry) {
    processRegistry = new prom.Registry();
    prom.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

const SERVER_COUNTERS: ReadonlyArray<[StatKey, string, string]> = [
  ['connectionsTotal', 'switchboard_connections_total', 'WebSocket connections accepted'],
  ['messagesIn', 'switchboard_messages_received_total', 'Messages received'],
  ['messagesOut', 'switchboard_messages_sent_total', 'Messages sent'],
  ['bytesIn', 'switchboard_received_bytes_total', 'Bytes received on WebSocket connections'],
  ['bytesOut', 'switchboard_sent_bytes_total', 'Bytes sent on WebSocket connections'],
  ['dropped', 'switchboard_messages_dropped_total', "Messages skipped for slow consumers ('drop' policy)"],
  ['evicted', 'switchboard_connections_evicted_total', "Slow consumers closed ('close' policy)"],
  ['heartbeatKills', 'switchboard_heartbeat_kills_total', 'Connections terminated for missing heartbeats'],
  ['protocolErrors', 'switchboard_protocol_errors_total', 'Connections failed for protocol errors'],
  ['handshakeFailures', 'switchboard_handshake_failures_total', 'Opening handshakes refused'],
];

const HUB_COUNTERS: ReadonlyArray<[HubKey, string, string]> = [
  ['published', 'switchboard_hub_published_total', 'Messages published to the hub'],
  ['delivered', 'switchboard_hub_delivered_total', 'Deliveries handed to subscribers'],
  ['skipped', 'switchboard_hub_skipped_total', 'Deliveries refused by slow or closing subscribers'],
  ['framesEncoded', 'switchboard_hub_frames_encoded_total', 'Frames encoded by the hub (once per publish)'],
  ['sharedCompressions', 'switchboard_hub_shared_compressions_total', 'Messages compressed once for many peers'],
];

export interface MetricsSources {
  endpoints: () => Record<string, Stats>;
  hubs: () => Record<string, HubStats>;
}

export interface Metrics {
  /** False when prom-client is not installed: render() then resolves to MISSING_PROM_CLIENT. */
  available: boolean;
  contentType: string;
  /** The exposition text. */
  render(): Promise<string>;
}

export const MISSING_PROM_CLIENT =
  'metrics are off: the demo server found no prom-client package (npm install prom-client enables /metrics)';

/** Imports prom-client; resolves null when it is not installed. Tests inject one that finds nothing. */
export type PromClientLoader = () => Promise<typeof PromClient | null>;

export const loadPromClient: PromClientLoader = () =>
  import('prom-client').then(
    // A CommonJS package: its exports arrive on `default` as well as by name.
    (m) => (m as typeof PromClient & { default?: typeof PromClient }).default ?? m,
    (err: Error & { code?: string }) => {
      if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err).includes("'prom-client'")) return null;
      throw err;
    },
  );

export async function createMetrics(
  sources: MetricsSources,
  load: PromClientLoader = loadPromClient,
): Promise<Metrics> {
  const prom = await load();
  if (!prom) {
    return {
      available: false,
      contentType: 'text/plain; charset=utf-8',
      render: async () => `${MISSING_PROM_CLIENT}\n`,
    };
  }
  const { Counter, Gauge, Registry } = prom;
  const own = new Registry();
  new Gauge({
    name: 'switchboard_connections_open',
    help: 'Open WebSocket connections',
    labelNames: ['endpoint'],
    registers: [own],
    collect() {
      for (const [endpoint, s] of Object.entries(sources.endpoints())) this.set({ endpoint }, s.connectionsOpen);
    },
  });
  // Counters mirror totals kept elsewhere: on each scrape, reset and add the current value.
  for (const [key, name, help] of SERVER_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['endpoint'],
      registers: [own],
      collect() {
        this.reset();
        for (const [endpoint, s] of Object.entries(sources.endpoints())) this.inc({ endpoint }, s[key]);
      },
    });
  }
  for (const [key, name, help] of HUB_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['hub'],
      registers: [own],
      collect() {
        this.reset();
        for (const [hub, s] of Object.entries(sources.hubs())) this.inc({ hub }, s[key]);
      },
    });
  }
  const registry = Registry.merge([own, defaultMetrics(prom)]);
  return {
    available: true,
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
