// What a bench workload is (a load generator job run against both servers, and the metrics to tabulate), the
// metric sets shared by the workload lists, and within-server comparisons between two workloads.
import type { Job } from '../loadgen.js';
import type { Better } from './render.js';

export type ServerName = 'switchboard' | 'ws';
export type JobSpec = Job extends infer J ? (J extends Job ? Omit<J, 'port' | 'serverPid' | 'ticks'> : never) : never;

export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  better: Better;
  /** For higher/lower: the ratio switchboard ÷ ws must be ≥ / ≤ this. */
  target?: number;
  /** An absolute bound on switchboard's median, in displayed units (after `scale`): ≤ limit passes. */
  limit?: number;
  /** Divide the raw value by this for display (e.g. µs → ms, bytes → KiB). */
  scale?: number;
}

export interface Workload {
  id: string;
  title: string;
  /** `--compression` of each server (switchboard: off|dedicated|shared; ws: off|on). */
  servers: { switchboard: string; ws: string };
  /** More flags for each server, e.g. `--compression-threshold 0`. */
  args?: { switchboard: string[]; ws: string[] };
  /** Flags for node itself, the same for both servers (e.g. `--import` of lib/loop-probe.js). */
  nodeFlags?: string[];
  /** `--group NAME` selects every workload of the group. */
  group?: string;
  /** Workloads with the same batch (listed together) run interleaved: A B A' B' per round, for comparisons. */
  batch?: string;
  job: JobSpec;
  metrics: MetricSpec[];
}

/** One server's median of `key` in `numerator` ÷ the same in `denominator`: e.g. compressed ÷ uncompressed. */
export interface Comparison {
  title: string;
  numerator: string;
  denominator: string;
  key: string;
  /** switchboard's ratio must be ≤ this. */
  max?: number;
}

export const ECHO_METRICS = (cpuTarget?: number): MetricSpec[] => [
  { key: 'msgsPerSec', label: 'throughput', unit: 'msg/s', better: 'higher' },
  { key: 'msgsPerCpuSec', label: 'messages per server CPU-second', unit: '/s', better: 'higher' },
  { key: 'p50Us', label: 'latency p50', unit: 'µs', better: 'lower' },
  { key: 'p99Us', label: 'latency p99', unit: 'µs', better: 'lower' },
  { key: 'p999Us', label: 'latency p99.9', unit: 'µs', better: 'lower' },
  {
    key: 'serverCpuUsPerMsg',
    label: 'server CPU / msg',
    unit: 'µs',
    better: 'lower',
    ...(cpuTarget ? { target: cpuTarget } : {}),
  },
  { key: 'serverCpuPct', label: 'server CPU', unit: '%', better: 'info' },
  { key: 'loadgenCpuPct', label: 'load generator CPU', unit: '%', better: 'info' },
];

export const BROADCAST_METRICS = (target?: number): MetricSpec[] => [
  { key: 'deliveriesPerSec', label: 'deliveries/s', unit: '/s', better: 'higher', ...(target ? { target } : {}) },
  {
    key: 'deliveriesPerCpuSec',
    label: 'deliveries per server CPU-second',
    unit: '/s',
    better: 'higher',
    ...(target ? { target } : {}),
  },
  { key: 'fanoutP50Us', label: 'all subscribers have it, p50', unit: 'ms', better: 'lower', scale: 1000 },
  { key: 'fanoutP99Us', label: 'all subscribers have it, p99', unit: 'ms', better: 'lower', scale: 1000 },
  { key: 'fanoutP999Us', label: 'all subscribers have it, p99.9', unit: 'ms', better: 'lower', scale: 1000 },
  { key: 'serverCpuUsPerDelivery', label: 'server CPU / delivery', unit: 'µs', better: 'lower' },
  { key: 'losses', label: 'losses (worst run)', unit: '', better: 'zero' },
  { key: 'orderErrors', label: 'out of order (worst run)', unit: '', better: 'zero' },
  { key: 'messagesMeasured', label: 'messages measured', unit: '', better: 'info' },
  { key: 'serverCpuPct', label: 'server CPU', unit: '%', better: 'info' },
  { key: 'loadgenCpuPct', label: 'load generator CPU', unit: '%', better: 'info' },
];

export const IDLE_METRICS = (handshakeTarget?: number): MetricSpec[] => [
  { key: 'bytesPerConnection', label: 'server RSS / connection', unit: 'KiB', better: 'lower', target: 1, scale: 1024 },
  {
    key: 'handshakesPerSec',
    label: 'handshakes/s',
    unit: '/s',
    better: 'higher',
    ...(handshakeTarget ? { target: handshakeTarget } : {}),
  },
  {
    key: 'handshakesPerCpuSec',
    label: 'handshakes per server CPU-second',
    unit: '/s',
    better: 'higher',
    ...(handshakeTarget ? { target: handshakeTarget } : {}),
  },
  { key: 'serverCpuUsPerHandshake', label: 'server CPU / handshake', unit: 'µs', better: 'lower' },
  { key: 'rssBeforeMiB', label: 'server RSS before', unit: 'MiB', better: 'info' },
  { key: 'rssAfterMiB', label: 'server RSS after', unit: 'MiB', better: 'info' },
  { key: 'loadgenCpuPct', label: 'load generator CPU (handshakes)', unit: '%', better: 'info' },
];

/** `--only` entries may end in or contain `*` (deflate-*, *-t0). */
export function matchesId(id: string, patterns: readonly string[]): boolean {
  return patterns.some((p) =>
    p.includes('*') ? new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`).test(id) : p === id,
  );
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
