// Renders bench results (bench/results/<date>.json) as Markdown: the full report for bench/results/latest.md and
// the compact table that `node dist/bench/report.js --readme` puts between the README's bench markers.

export type Better = 'higher' | 'lower' | 'zero' | 'info';

export interface Row {
  label: string;
  unit: string;
  better: Better;
  switchboard: number;
  ws: number;
  /** switchboard / ws, of the medians. */
  ratio: number;
  /** e.g. "≤ 0.67×", "≥ 2×", "= 0". */
  target?: string;
  pass?: boolean;
  /** Lowest and highest value over the rounds. */
  range: { switchboard: [number, number]; ws: [number, number] };
}

export interface ProfileFrame {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  server: string;
  workload: string;
  file: string;
  sampledMs: number;
  top: ProfileFrame[];
  /** Inclusive time of switchboard's own functions (src/), the ones worth changing. */
  topInclusive: ProfileFrame[];
}

export interface WorkloadResult {
  id: string;
  title: string;
  servers: { switchboard: string; ws: string };
  params: Record<string, number | string | boolean>;
  runs: { switchboard: Array<Record<string, number>>; ws: Array<Record<string, number>> };
  errors: string[];
  rows: Row[];
}

/** One server's median in one workload ÷ its median in another (e.g. compressed ÷ uncompressed). */
export interface ComparisonResult {
  title: string;
  switchboard: number;
  ws: number;
  target?: string;
  pass?: boolean;
}

export interface BenchResults {
  version: 1;
  date: string;
  startedAt: string;
  finishedAt: string;
  node: string;
  ws: string;
  cpu: string;
  cores: number;
  kernel: string;
  quick: boolean;
  rounds: number;
  conditions: string[];
  workloads: WorkloadResult[];
  /** Within-server ratios between workloads run interleaved. */
  comparisons?: ComparisonResult[];
  profiles: ProfileSummary[];
  /** Cross-node broadcast through Redis (bench/redis-broadcast.ts), when redis-server was there to run it. */
  crossNode?: CrossNodeResult[];
  /** WebSockets over HTTP/2 against HTTP/1.1 (bench/http2.ts). */
  http2?: Http2Summary;
}

/** What bench/http2.ts measures per carrier (medians), for the report. */
export interface Http2Figures {
  websockets: number;
  /** TCP+TLS connections the WebSockets used. */
  connections: number;
  bytesPerWebSocket: number;
  serverCpuUsPerOpen: number;
  serverCpuUsPerMsg: number;
  msgsPerSec: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

export interface Http2Summary {
  rounds: number;
  conditions: string[];
  medians: { h2: Http2Figures; 'http/1.1': Http2Figures };
}

/** HTTP/2 and HTTP/1.1 side by side; the ratio is HTTP/2 ÷ HTTP/1.1. */
function renderHttp2(r: Http2Summary): string {
  const h2 = r.medians.h2;
  const h1 = r.medians['http/1.1'];
  const rows: Array<[string, (f: Http2Figures) => number, string]> = [
    ['server RSS / WebSocket', (f) => f.bytesPerWebSocket / 1024, 'KiB'],
    ['server CPU / WebSocket opened (TLS handshakes included)', (f) => f.serverCpuUsPerOpen, 'µs'],
    ['server CPU / echoed message', (f) => f.serverCpuUsPerMsg, 'µs'],
    ['echoes/s', (f) => f.msgsPerSec, '/s'],
    ['server CPU', (f) => f.serverCpuPct, '%'],
    ['client CPU (bench process)', (f) => f.clientCpuPct, '%'],
  ];
  const lines = [
    `| metric | HTTP/2: ${h2.websockets} over ${h2.connections} sessions | HTTP/1.1: ${h1.websockets} over ${h1.connections} connections | ratio (h2/h1) |`,
    '|---|---:|---:|---:|',
  ];
  for (const [label, get, unit] of rows)
    lines.push(`| ${label} | ${fmt(get(h2), unit)} | ${fmt(get(h1), unit)} | ${(get(h2) / get(h1)).toFixed(2)}× |`);
  return [lines.join('\n'), '', ...r.conditions.map((c) => `- ${c}`), `- medians of ${r.rounds} round(s)`].join('\n');
}

export interface CrossNodeResult {
  nodes: number;
  clients: number;
  messages: number;
  size: number;
  deliveries: number;
  ms: number;
  deliveriesPerSec: number;
}

/** One publisher, `clients` subscribers spread over 1 or 2 nodes sharing the topic through a real redis-server. */
function renderCrossNode(rows: CrossNodeResult[]): string {
  const one = rows.find((r) => r.nodes === 1);
  const lines = [
    '| nodes | subscribers | messages | size | deliveries/s | vs 1 node |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const ratio = one ? `${(r.deliveriesPerSec / one.deliveriesPerSec).toFixed(2)}×` : '–';
    lines.push(
      `| ${r.nodes} | ${r.clients} | ${r.messages} | ${r.size} B | ${fmt(r.deliveriesPerSec, '/s')} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

const CROSS_NODE_NOTE =
  'Cross-node broadcast through Redis (switchboard only: ws has no multi-node story). All nodes run in the bench process ' +
  'with one redis-server on 127.0.0.1, so this shows the Redis hop adds no bottleneck; it is not a multi-machine scale-out figure.';

export function fmt(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  let s: string;
  if (abs >= 1e6) s = `${(value / 1e6).toFixed(abs >= 1e7 ? 1 : 2)}M`;
  else if (abs >= 1e4) s = `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
  else if (abs >= 100) s = value.toFixed(0);
  else if (abs >= 10) s = value.toFixed(1);
  else if (abs >= 1 || abs === 0) s = value.toFixed(2);
  else s = value.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

function ratioText(row: Row): string {
  if (row.better === 'zero' || !Number.isFinite(row.ratio)) return '';
  return `${row.ratio.toFixed(2)}×`;
}

function passText(row: Row): string {
  if (row.pass === undefined) return '';
  return row.pass ? '✅' : '❌';
}

/** One table: workload, metric, medians, ratio, target. */
export function renderTable(results: BenchResults, options: { compact?: boolean } = {}): string {
  const lines = ['| Workload | Metric | switchboard | ws | ratio (sb/ws) | target |', '|---|---|---:|---:|---:|---|'];
  for (const w of results.workloads) {
    let first = true;
    for (const row of w.rows) {
      if (options.compact && row.better === 'info') continue;
      const name = first ? w.title : '';
      first = false;
      const target = row.target ? `${row.target} ${passText(row)}` : '';
      lines.push(
        `| ${name} | ${row.label} | ${fmt(row.switchboard, row.unit)} | ${fmt(row.ws, row.unit)} | ${ratioText(row)} | ${target.trim()} |`,
      );
    }
    if (w.errors.length > 0)
      lines.push(`| ${first ? w.title : ''} | errors | ${w.errors.length} run(s) failed | | | |`);
  }
  return lines.join('\n');
}

/** Each server against itself: the ratio of its medians in two workloads. */
export function renderComparisons(rows: ComparisonResult[]): string {
  const lines = ['| Comparison (each server against itself) | switchboard | ws | target |', '|---|---:|---:|---|'];
  for (const c of rows) {
    const target = c.target ? `${c.target} ${c.pass ? '✅' : '❌'}` : '';
    lines.push(`| ${c.title} | ${c.switchboard.toFixed(2)}× | ${c.ws.toFixed(2)}× | ${target} |`);
  }
  return lines.join('\n');
}

export function renderConditions(results: BenchResults): string {
  return [
    `- Date: ${results.date} (${results.startedAt} → ${results.finishedAt})`,
    `- Node ${results.node}, ws ${results.ws}, ${results.cpu} × ${results.cores} cores, Linux ${results.kernel}`,
    `- ${results.rounds} round(s) per server, A B A B alternation, medians shown${results.quick ? ' — QUICK smoke run, not for comparison' : ''}`,
    ...results.conditions.map((c) => `- ${c}`),
  ].join('\n');
}

export function renderProfiles(profiles: ProfileSummary[]): string {
  const out: string[] = [];
  for (const p of profiles) {
    out.push(`### ${p.server}, ${p.workload} (${fmt(p.sampledMs)} ms sampled)`, '');
    out.push('| self % | self ms | function | where |', '|---:|---:|---|---|');
    for (const f of p.top) out.push(`| ${f.selfPct.toFixed(1)} | ${fmt(f.selfMs)} | \`${f.name}\` | ${f.where} |`);
    if (p.topInclusive.length > 0) {
      out.push('', 'Inclusive time of switchboard functions:', '', '| total % | function | where |', '|---:|---|---|');
      for (const f of p.topInclusive) out.push(`| ${f.selfPct.toFixed(1)} | \`${f.name}\` | ${f.where} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** The whole of bench/results/latest.md. */
export function renderReport(results: BenchResults): string {
  const parts = [
    `# switchboard vs ws — ${results.date}`,
    '',
    renderConditions(results),
    '',
    renderTable(results),
    '',
    'Ratios are switchboard ÷ ws of the medians; CPU is the server process’s user+sys time (all threads, from',
    '/proc/<pid>/stat) over the measured window, divided by the messages (or deliveries, or handshakes) in it.',
    'Latency is per message round trip (echo) or until every subscriber has the message (broadcast).',
  ];
  if (results.comparisons?.length)
    parts.push('', '## Within-server comparisons', '', renderComparisons(results.comparisons));
  if (results.crossNode?.length)
    parts.push('', '## Cross-node broadcast (Redis)', '', CROSS_NODE_NOTE, '', renderCrossNode(results.crossNode));
  if (results.http2)
    parts.push('', '## WebSockets over HTTP/2 (RFC 8441) and HTTP/1.1', '', renderHttp2(results.http2));
  if (results.profiles.length > 0)
    parts.push('', '## CPU profiles (--cpu-prof, top self time)', '', renderProfiles(results.profiles));
  return `${parts.join('\n')}\n`;
}

/** The README section: conditions and the compact table. */
export function renderReadmeSection(results: BenchResults): string {
  return [
    `Benchmarks (\`npm run bench\`, ${results.date}; Node ${results.node}, ${results.cpu}, server and load generator each`,
    'pinned to one core; medians of alternating runs — see bench/results/latest.md for conditions):',
    '',
    renderTable(results, { compact: true }),
    ...(results.crossNode?.length ? ['', CROSS_NODE_NOTE, '', renderCrossNode(results.crossNode)] : []),
  ].join('\n');
}

export const README_START = '<!-- bench:start -->';
export const README_END = '<!-- bench:end -->';

/** Replaces what is between the markers; null when the markers are missing (the caller prints instead). */
export function replaceReadmeSection(readme: string, section: string): string | null {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start === -1 || end === -1 || end < start) return null;
  return `${readme.slice(0, start + README_START.length)}\n${section}\n${readme.slice(end)}`;
}
