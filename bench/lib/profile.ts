// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function, and inclusive time of switchboard's own
// functions, so the hot paths can be read without opening DevTools.
import { readFileSync } from 'node:fs';
import type { ProfileFrame, ProfileSummary } from './render.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(cf: CallFrame): string {
  if (!cf.url) return '(native)';
  const m = /\/(dist|node_modules)\/(.*)$/.exec(cf.url);
  const path = m ? `${m[1] === 'dist' ? '' : 'node_modules/'}${m[2]}` : cf.url.replace(/^node:/, 'node:');
  return `${path}:${cf.lineNumber + 1}`;
}

function label(cf: CallFrame): string {
  return cf.functionName || '(anonymous)';
}

/**
 * `window` (ms since the profile started, i.e. about process start) keeps only the samples taken while the load
 * ran, leaving out module loading and shutdown.
 */
export function summarizeProfile(
  file: string,
  server: string,
  workload: string,
  window: { fromMs: number; toMs: number } = { fromMs: 0, toMs: Number.POSITIVE_INFINITY },
  topN = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  let total = 0;
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < window.fromMs * 1000 || at > window.toMs * 1000) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  const idle = new Set(['(idle)', '(program)', '(root)']);
  // Self time, merged by function and place.
  const self = new Map<string, { cf: CallFrame; us: number }>();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const key = `${label(cf)}@${cf.url}:${cf.lineNumber}`;
    const e = self.get(key);
    if (e) e.us += us;
    else self.set(key, { cf, us });
  }
  const idleUs = [...self.values()].filter((e) => e.cf.functionName === '(idle)').reduce((a, e) => a + e.us, 0);
  const busy = Math.max(1, total - idleUs);
  const top: ProfileFrame[] = [...self.values()]
    .filter((e) => !idle.has(e.cf.functionName) || e.cf.functionName === '(program)')
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ name: label(e.cf), where: where(e.cf), selfMs: e.us / 1000, selfPct: (e.us / busy) * 100 }));

  // Inclusive time: every sample counts once for each distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, { cf: CallFrame; us: number }>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (!cf.url.includes('/dist/src/')) continue;
      const key = `${label(cf)}@${cf.url}:${cf.lineNumber}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = inclusive.get(key);
      if (e) e.us += us;
      else inclusive.set(key, { cf, us });
    }
  }
  const topInclusive: ProfileFrame[] = [...inclusive.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, 10)
    .map((e) => ({ name: label(e.cf), where: where(e.cf), selfMs: e.us / 1000, selfPct: (e.us / busy) * 100 }));
  return { server, workload, file, sampledMs: busy / 1000, top, topInclusive };
}
