// The Redis restart scenario of the brief, shared by its regression test and by a measurement run: node A streams to
// a topic at a fixed rate, redis-server is killed and started again after `outageMs`, and we count what node B's
// subscriber got and how long each node took to come back once Redis answered again.
import type { TestContext } from 'node:test';
import type { RedisAdapterOptions } from '../../src/adapters/redis.js';
import { client, startNode, text } from './redis-nodes.js';
import { startRedisServer, waitFor, waitForSubscribers } from './redis-server.js';

export interface RestartScenario {
  /** Messages per second published on node A (default 500). */
  rate?: number;
  /** Messages published in all (default 5000). */
  messages?: number;
  /** When Redis is killed, in ms after the stream started (default 4000). */
  stopAt?: number;
  /** How long Redis stays down, in ms (default 2000). */
  outageMs?: number;
  /** Options of both adapters. Default: the adapters' own defaults. */
  adapter?: Omit<RedisAdapterOptions, 'url'>;
}

export interface RestartResult {
  published: number;
  /** Distinct stream messages B's subscriber never got. */
  lostAtB: number;
  /** Whether B got the ones it got in order, without repeats. */
  inOrderAtB: boolean;
  /** What A's own subscriber got (local delivery never stops). */
  receivedAtA: number;
  /** From the moment Redis answered PING again to each node's 'up' event, in ms. */
  reconnectMs: { a: number; b: number };
  /** The outage as the scenario timed it (kill to PING answered again), in ms. */
  outageMs: number;
  /** What B's hub was told through onGap: [topic, reason, missed]. */
  gapsAtB: Array<[string, string, number | null]>;
  /** Node A's adapter: buffered messages flushed, and acknowledged ones sent again to be safe. */
  flushedAtA: number;
  resentAtA: number;
}

export async function runRestartScenario(t: TestContext, scenario: RestartScenario = {}): Promise<RestartResult> {
  const rate = scenario.rate ?? 500;
  const total = scenario.messages ?? 5000;
  const stopAt = scenario.stopAt ?? 4000;
  const outage = scenario.outageMs ?? 2000;
  const redis = await startRedisServer(t);
  // `reconnect: {}` overrides the test nodes' short back-off: each adapter keeps its own defaults.
  const options = { reconnect: {}, ...scenario.adapter };
  const a = await startNode(t, redis.url, options);
  const b = await startNode(t, redis.url, options);
  const onA = await client(t, a, 'live');
  const onB = await client(t, b, 'live');
  await waitForSubscribers(redis, 'switchboard:live', 2);
  const upAt = { a: 0, b: 0 };
  a.adapter.on('up', () => {
    upAt.a = performance.now();
  });
  b.adapter.on('up', () => {
    upAt.b = performance.now();
  });

  // The rate is kept against the elapsed time, so a late timer tick catches up instead of slowing the stream.
  const started = performance.now();
  let sent = 0;
  const streamed = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
      while (sent < due) a.hub.publish('live', `s${sent++}`);
      if (sent === total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
    t.after(() => clearInterval(timer));
  });
  await new Promise((r) => setTimeout(r, stopAt));
  const killedAt = performance.now();
  await redis.stop();
  await new Promise((r) => setTimeout(r, outage));
  await redis.start();
  const backAt = performance.now();
  await streamed;
  await waitFor('both nodes back', () => a.adapter.connected && b.adapter.connected, 30_000);
  // A last marker from A: once B has it, everything A flushed before it has arrived too.
  a.hub.publish('live', 'end');
  await waitFor('the end marker at B', () => text(onB.messages).includes('end'), 30_000);
  await onA.received(total + 1);

  const atB = text(onB.messages)
    .filter((m) => m.startsWith('s'))
    .map((m) => Number(m.slice(1)));
  let inOrder = true;
  for (let k = 1; k < atB.length; k++) if (atB[k]! <= atB[k - 1]!) inOrder = false;
  return {
    published: total,
    lostAtB: total - new Set(atB).size,
    inOrderAtB: inOrder,
    receivedAtA: onA.messages.length - 1,
    reconnectMs: { a: Math.round(upAt.a - backAt), b: Math.round(upAt.b - backAt) },
    outageMs: Math.round(backAt - killedAt),
    gapsAtB: b.gaps.map((g) => [g.topic, g.reason, g.missed]),
    flushedAtA: a.adapter.stats.flushed,
    resentAtA: a.adapter.stats.resent,
  };
}
