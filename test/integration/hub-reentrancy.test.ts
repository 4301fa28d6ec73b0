// Publishing from inside a publish: a slow consumer evicted during fan-out fails synchronously, and an app that
// announces the departure from its 'error' listener (hub.publish) must not make subscribers disagree on the order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import { Hub } from '../../src/hub.js';
import { startClockedServer } from '../helpers/clocked-server.js';
import { within } from '../helpers/raw-peer.js';

const KiB = 1024;

describe('hub: a publish made while a publish fans out', () => {
  it("an eviction's 'error' listener that publishes does not reorder the topic for the live subscribers", async (t) => {
    const s = await startClockedServer(t, {
      heartbeat: false,
      highWaterMark: 16 * KiB,
      maxBufferedBytes: 64 * KiB,
      onSlowConsumer: 'close',
    });
    const hub = new Hub();
    const servers: Connection[] = [];
    s.wss.on('connection', (c) => servers.push(c));
    const clients: Connection[] = [];
    const received: string[][] = [[], [], []];
    for (let i = 0; i < 3; i++) {
      const c = await connect(`ws://127.0.0.1:${s.port}/`);
      clients.push(c);
      c.on('message', (m: Message) => {
        if (m.type === 'text') received[i]!.push(m.data as string);
      });
    }
    t.after(() => {
      for (const c of clients) c.terminate();
    });
    await within(
      (async () => {
        while (servers.length < 3) await new Promise((r) => setImmediate(r));
      })(),
      5_000,
      'three server connections',
    );
    // Subscription order: live A, then the one to evict, then live B.
    const [a, slow, b] = servers as [Connection, Connection, Connection];
    for (const c of [a, slow, b]) hub.subscribe(c, 'room');
    slow.on('error', () => hub.publish('room', 'left'));
    // Within one tick writes are corked: the slow one already holds 60 KiB, so the next publish evicts it.
    slow.send(Buffer.alloc(60 * KiB));
    hub.publish('room', 'x'.repeat(8 * KiB));
    hub.publish('room', 'end');
    const short = (m: string): string => (m.length > 16 ? `x*${m.length}` : m);
    await within(
      (async () => {
        while (received[0]!.length < 3 || received[2]!.length < 3) await new Promise((r) => setImmediate(r));
      })(),
      5_000,
      'both live subscribers to get three messages',
    );
    assert.deepEqual(received[0]!.map(short), received[2]!.map(short), 'every live subscriber sees one order');
    const order = received[2]!.map(short);
    assert.ok(order.indexOf(`x*${8 * KiB}`) < order.indexOf('left'), `the message that evicted goes first: ${order}`);
  });
});
