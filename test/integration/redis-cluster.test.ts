// Three demo servers (apps/demo-server.ts), each its own node with its own Redis adapter, 300 clients on /broadcast
// spread across them: every message reaches every client exactly once, each sender's messages in order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DemoServer } from '../../apps/demo-server.js';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { startTestDemo } from '../helpers/demo.js';
import { skipWithoutRedis, startRedisServer, waitFor, waitForSubscribers } from '../helpers/redis-server.js';

const skip = skipWithoutRedis;
const NODES = 3;
const CLIENTS = 300;
const SENDERS = 6;
const PER_SENDER = 25;

describe('a 3-node cluster', { skip }, () => {
  it('delivers every /broadcast message exactly once to each of 300 clients spread across 3 nodes', async (t) => {
    const redis = await startRedisServer(t);
    const nodes: DemoServer[] = [];
    for (let i = 0; i < NODES; i++) {
      const node = await startTestDemo({ maxMessageSize: 1 << 20, dashboardInterval: 60_000, redis: redis.url });
      nodes.push(node);
      t.after(() => node.close());
    }
    const clients: Array<{ conn: Connection; got: Map<string, number[]>; count: number }> = [];
    for (let i = 0; i < CLIENTS; i++) {
      const node = nodes[i % NODES]!;
      const conn = await connect(`ws://127.0.0.1:${node.port}/broadcast`);
      const entry = { conn, got: new Map<string, number[]>(), count: 0 };
      conn.on('message', (msg) => {
        const [sender, seq] = String(msg.data).split(':');
        let list = entry.got.get(sender!);
        if (!list) {
          list = [];
          entry.got.set(sender!, list);
        }
        list.push(Number(seq));
        entry.count++;
      });
      clients.push(entry);
      t.after(() => conn.terminate());
    }
    await waitForSubscribers(redis, 'switchboard:broadcast', NODES);

    const started = Date.now();
    const senders = clients.slice(0, SENDERS);
    for (let k = 0; k < PER_SENDER; k++) {
      for (const [j, s] of senders.entries()) s.conn.send(`s${j}:${k}`);
    }
    const total = SENDERS * PER_SENDER;
    await waitFor(
      `${total} messages at each of ${CLIENTS} clients`,
      () => clients.every((c) => c.count >= total),
      30_000,
    );
    const elapsed = Date.now() - started;
    const expected = Array.from({ length: PER_SENDER }, (_, k) => k);
    for (const [i, c] of clients.entries()) {
      assert.equal(c.count, total, `client ${i}: no duplicates`);
      for (let j = 0; j < SENDERS; j++) assert.deepEqual(c.got.get(`s${j}`), expected, `client ${i}, sender ${j}`);
    }
    t.diagnostic(`${total * CLIENTS} deliveries in ${elapsed} ms`);
    // Nothing trickles in after the fact (a late duplicate would show here): a final marker arrives after all else.
    senders[0]!.conn.send('end:0');
    await waitFor('the end marker everywhere', () => clients.every((c) => c.count === total + 1), 10_000);
  });
});
