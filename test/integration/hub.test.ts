// The hub (src/hub.ts) over real connections: topic bookkeeping and cleanup, except, ordering, text and binary,
// encode-once fan-out to 1,000 subscribers (plain, 'shared' and 'dedicated' compression), and the adapter contract.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { connect, type ConnectOptions } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import { Hub, type HubAdapter, type HubMessage } from '../../src/hub.js';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { Stats } from '../../src/stats.js';
import { within } from '../helpers/raw-peer.js';

interface Peer {
  client: Connection;
  server: Connection;
  received: Message[];
}

interface Setup {
  wss: WebSocketServer;
  port: number;
  /** Opens `n` clients (in batches, so the listen backlog never overflows), each paired with its server side. */
  open(n: number, options?: ConnectOptions): Promise<Peer[]>;
}

async function setup(t: TestContext, options: ServerOptions = {}): Promise<Setup> {
  const wss = new WebSocketServer({ heartbeat: false, ...options });
  const { port } = await wss.listen(0, '127.0.0.1');
  const clients: Connection[] = [];
  t.after(async () => {
    for (const c of clients) c.terminate();
    await wss.close();
  });
  // Pairs each client with its server side through a request header, whatever order the accepts happen in.
  const accepted = new Map<string, Connection>();
  const waiters = new Map<string, (c: Connection) => void>();
  wss.on('connection', (conn, req) => {
    const id = String(req.headers['x-peer-id']);
    const w = waiters.get(id);
    if (w) w(conn);
    else accepted.set(id, conn);
  });
  const serverSide = (id: string): Promise<Connection> => {
    const ready = accepted.get(id);
    if (ready) return Promise.resolve(ready);
    return within(new Promise((resolve) => waiters.set(id, resolve)), 5_000, `server side of peer ${id}`);
  };
  let seq = 0;
  const openOne = async (options: ConnectOptions): Promise<Peer> => {
    const id = String(++seq);
    const client = await connect(`ws://127.0.0.1:${port}/`, { ...options, headers: { 'x-peer-id': id } });
    clients.push(client);
    const received: Message[] = [];
    client.on('message', (m) => received.push(m));
    return { client, server: await serverSide(id), received };
  };
  return {
    wss,
    port,
    async open(n, options = {}) {
      const out: Peer[] = [];
      for (let i = 0; i < n; i += 100) {
        out.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => openOne(options)))));
      }
      return out;
    },
  };
}

/** Bounded polling until every peer has received at least `count` messages. */
async function receivedAll(peers: readonly Peer[], count: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const behind = peers.filter((p) => p.received.length < count).length;
    if (behind === 0) return;
    if (Date.now() > end) throw new Error(`${behind} of ${peers.length} peers still lack message ${count}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function text(m: Message | undefined): string {
  assert.ok(m, 'a message');
  assert.equal(m.type, 'text');
  return m.data as string;
}

describe('topics', () => {
  it('subscribe, subscribers(), topicsOf(), unsubscribe, unsubscribeAll', async (t) => {
    const s = await setup(t);
    const [a, b, c] = await s.open(3);
    const hub = new Hub();
    hub.subscribe(a!.server, 'x');
    hub.subscribe(b!.server, 'x');
    hub.subscribe(b!.server, 'y');
    hub.subscribe(c!.server, 'y');
    hub.subscribe(c!.server, 'y'); // twice is once
    assert.equal(hub.subscribers('x'), 2);
    assert.equal(hub.subscribers('y'), 2);
    assert.equal(hub.subscribers('nobody'), 0);
    assert.deepEqual(hub.topicsOf(b!.server).sort(), ['x', 'y']);
    assert.equal(hub.topicCount, 2);
    hub.unsubscribe(a!.server, 'x');
    hub.unsubscribe(a!.server, 'x'); // not subscribed: a no-op
    assert.equal(hub.subscribers('x'), 1);
    hub.unsubscribeAll(b!.server);
    assert.equal(hub.subscribers('x'), 0);
    assert.equal(hub.subscribers('y'), 1);
    assert.equal(hub.topicCount, 1, 'an empty topic is forgotten');
    assert.deepEqual(hub.topicsOf(b!.server), []);
    assert.equal(hub.publish('x', 'to nobody'), 0);
    assert.equal(hub.publish('y', 'to c'), 1);
    await receivedAll([c!], 1);
    assert.equal(text(c!.received[0]), 'to c');
    assert.equal(a!.received.length + b!.received.length, 0);
  });

  it('misuse throws at once', async (t) => {
    const s = await setup(t);
    const [a] = await s.open(1);
    const hub = new Hub();
    assert.throws(() => hub.subscribe({} as Connection, 'x'), TypeError);
    assert.throws(() => hub.subscribe(a!.server, ''), TypeError);
  });

  it('a connection that closes leaves every topic', async (t) => {
    const s = await setup(t);
    const [a, b] = await s.open(2);
    const hub = new Hub();
    for (const topic of ['t1', 't2', 't3']) hub.subscribe(a!.server, topic);
    hub.subscribe(b!.server, 't1');
    await a!.client.close(1000, 'bye');
    await within(a!.server.closed, 5_000, 'the server side to close');
    assert.deepEqual(hub.topicsOf(a!.server), []);
    assert.equal(hub.subscribers('t1'), 1);
    assert.equal(hub.subscribers('t2'), 0);
    assert.equal(hub.topicCount, 1);
    assert.equal(hub.publish('t1', 'still here'), 1);
  });

  it('subscribe/unsubscribeAll cycles do not pile up close listeners', async (t) => {
    const s = await setup(t);
    const [a] = await s.open(1);
    const hub = new Hub();
    const baseline = a!.server.listenerCount('close');
    for (let i = 0; i < 25; i++) {
      hub.subscribe(a!.server, 'x');
      hub.unsubscribeAll(a!.server);
    }
    hub.subscribe(a!.server, 'x');
    assert.ok(a!.server.listenerCount('close') <= baseline + 1, `${a!.server.listenerCount('close')} close listeners`);
    // And the one listener left still cleans up.
    a!.client.terminate();
    await within(a!.server.closed, 5_000, 'close');
    assert.equal(hub.subscribers('x'), 0);
  });

  it('subscribing a connection that already closed does not leave it in the topic', async (t) => {
    const s = await setup(t);
    const [a] = await s.open(1);
    a!.client.terminate();
    await within(a!.server.closed, 5_000, 'close');
    const hub = new Hub();
    hub.subscribe(a!.server, 'x');
    assert.equal(hub.subscribers('x'), 0);
    assert.equal(hub.topicCount, 0);
  });
});

describe('publish', () => {
  it('except skips the sender; everyone else receives', async (t) => {
    const s = await setup(t);
    const peers = await s.open(3);
    const hub = new Hub();
    for (const p of peers) hub.subscribe(p.server, 'room');
    assert.equal(hub.publish('room', 'from a', { except: peers[0]!.server }), 2);
    assert.equal(hub.publish('room', 'to all'), 3);
    await receivedAll(peers, 1);
    await receivedAll(peers.slice(1), 2);
    assert.deepEqual(peers[0]!.received.map(text), ['to all']);
    for (const p of peers.slice(1)) assert.deepEqual(p.received.map(text), ['from a', 'to all']);
    assert.equal(hub.stats.published, 2);
    assert.equal(hub.stats.delivered, 5);
  });

  it('delivers text and binary in publish order, as strings, Buffers or Message objects', async (t) => {
    const s = await setup(t);
    const peers = await s.open(4);
    const hub = new Hub();
    for (const p of peers) hub.subscribe(p.server, 'seq');
    const N = 600;
    const expected: Message[] = [];
    for (let i = 0; i < N; i++) {
      let m: Message;
      switch (i % 4) {
        case 0:
          m = { type: 'text', data: `text ${i} ${'é'.repeat(i % 50)}` };
          hub.publish('seq', m.data);
          break;
        case 1:
          m = { type: 'binary', data: Buffer.from([i & 0xff, i >> 8, 0, 255]) };
          hub.publish('seq', m.data);
          break;
        case 2:
          m = { type: 'binary', data: Buffer.from(`binary-from-string ${i}`) };
          hub.publish('seq', `binary-from-string ${i}`, { binary: true });
          break;
        default:
          m = { type: 'text', data: `message object ${i}` };
          hub.publish('seq', { type: 'text', data: m.data });
      }
      expected.push(m);
    }
    await receivedAll(peers, N);
    for (const p of peers) assert.deepEqual(p.received, expected);
    assert.equal(hub.stats.framesEncoded, N, 'one frame per publish for four subscribers');
  });

  it('reaches client-side connections too (masked per connection)', async (t) => {
    const s = await setup(t);
    const got: Message[] = [];
    s.wss.on('connection', (conn) => conn.on('message', (m) => got.push(m)));
    const [a] = await s.open(1);
    const hub = new Hub();
    hub.subscribe(a!.client, 'up');
    hub.publish('up', 'from the client side');
    hub.publish('up', Buffer.from([1, 2, 3]));
    const end = Date.now() + 5_000;
    while (got.length < 2) {
      assert.ok(Date.now() < end, 'server received both');
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(got, [
      { type: 'text', data: 'from the client side' },
      { type: 'binary', data: Buffer.from([1, 2, 3]) },
    ]);
  });
});

describe('encode once for 1,000 subscribers', () => {
  const payload = JSON.stringify({
    kind: 'tick',
    rows: Array.from({ length: 60 }, (_, i) => ({ id: i, name: `row-${i}`, price: 100 + i })),
  });

  it('plain: one publish, one framing, 1,000 deliveries', async (t) => {
    const s = await setup(t);
    const peers = await s.open(1_000);
    const hub = new Hub();
    for (const p of peers) hub.subscribe(p.server, 'all');
    const before = { ...hub.stats };
    assert.equal(hub.publish('all', payload), 1_000);
    assert.equal(hub.stats.framesEncoded - before.framesEncoded, 1);
    assert.equal(hub.stats.sharedCompressions - before.sharedCompressions, 0);
    await receivedAll(peers, 1);
    for (const p of peers) assert.equal(text(p.received[0]), payload);
  });

  it("compression 'shared': exactly one compression for 1,000 compressing clients, each decodes the message", async (t) => {
    const s = await setup(t, { compression: 'shared' });
    const clientStats = new Stats();
    const peers = await s.open(1_000, { compression: 'dedicated', stats: clientStats });
    assert.ok(
      peers.every((p) => p.server.extensions.includes('server_no_context_takeover')),
      'every peer negotiated a shareable deflate',
    );
    const hub = new Hub();
    for (const p of peers) hub.subscribe(p.server, 'all');
    const before = { ...hub.stats };
    const bytesBefore = clientStats.bytesIn;
    assert.equal(hub.publish('all', payload), 1_000);
    assert.equal(hub.stats.sharedCompressions - before.sharedCompressions, 1);
    assert.equal(hub.stats.framesEncoded - before.framesEncoded, 1);
    await receivedAll(peers, 1);
    for (const p of peers) assert.equal(text(p.received[0]), payload);
    const perPeer = (clientStats.bytesIn - bytesBefore) / 1_000;
    assert.ok(perPeer < payload.length / 2, `compressed on the wire: ${perPeer} bytes per peer for ${payload.length}`);
    // A second publish compresses once more, still not per peer.
    hub.publish('all', payload);
    assert.equal(hub.stats.sharedCompressions - before.sharedCompressions, 2);
    await receivedAll(peers, 2);
    for (const p of peers) assert.equal(text(p.received[1]), payload);
  });

  it("compression 'dedicated': each peer compresses with its own context and still gets the right messages", async (t) => {
    const s = await setup(t, { compression: 'dedicated' });
    const clientStats = new Stats();
    const peers = await s.open(1_000, { compression: 'dedicated', stats: clientStats });
    assert.ok(
      peers.every((p) => p.server.extensions !== '' && !p.server.extensions.includes('server_no_context_takeover')),
    );
    const hub = new Hub();
    for (const p of peers) hub.subscribe(p.server, 'all');
    const bytesBefore = clientStats.bytesIn;
    const second = payload.replace('tick', 'tock');
    hub.publish('all', payload);
    hub.publish('all', second);
    assert.equal(hub.stats.sharedCompressions, 0);
    assert.equal(hub.stats.framesEncoded, 0, 'nothing framed by the hub: each connection frames its own');
    await receivedAll(peers, 2);
    for (const p of peers) assert.deepEqual(p.received.map(text), [payload, second]);
    const perPeer = (clientStats.bytesIn - bytesBefore) / 1_000;
    assert.ok(perPeer < payload.length / 2, `compressed on the wire: ${perPeer} bytes per peer for two messages`);
  });
});

class FakeAdapter implements HubAdapter {
  readonly calls: string[] = [];
  readonly published: Array<[string, HubMessage]> = [];
  deliver: ((topic: string, msg: HubMessage) => void) | null = null;
  failPublish = false;
  start(deliver: (topic: string, msg: HubMessage) => void): void {
    this.deliver = deliver;
  }
  subscribe(topic: string): void {
    this.calls.push(`subscribe ${topic}`);
  }
  unsubscribe(topic: string): void {
    this.calls.push(`unsubscribe ${topic}`);
  }
  publish(topic: string, msg: HubMessage): Promise<void> {
    this.published.push([topic, msg]);
    return this.failPublish ? Promise.reject(new Error('backend down')) : Promise.resolve();
  }
  close(): void {
    this.calls.push('close');
  }
}

describe('adapter', () => {
  it('subscribe on the first local subscriber, unsubscribe on the last, publish for each local publish', async (t) => {
    const s = await setup(t);
    const [a, b] = await s.open(2);
    const adapter = new FakeAdapter();
    const hub = new Hub({ adapter });
    await hub.ready();
    hub.subscribe(a!.server, 'x');
    hub.subscribe(b!.server, 'x');
    hub.subscribe(a!.server, 'y');
    assert.deepEqual(adapter.calls, ['subscribe x', 'subscribe y']);
    hub.unsubscribe(a!.server, 'x');
    assert.deepEqual(adapter.calls, ['subscribe x', 'subscribe y'], 'x still has b');
    hub.publish('x', 'one');
    hub.publish('nobody-here', Buffer.from([9]));
    assert.deepEqual(
      adapter.published.map(([topic, m]) => [topic, m.type, m.data.toString('hex')]),
      [
        ['x', 'text', Buffer.from('one').toString('hex')],
        ['nobody-here', 'binary', '09'],
      ],
      'every local publish goes to the adapter, subscribers here or not',
    );
    b!.client.terminate();
    await within(b!.server.closed, 5_000, 'b closes');
    assert.deepEqual(adapter.calls, ['subscribe x', 'subscribe y', 'unsubscribe x']);
    hub.unsubscribeAll(a!.server);
    assert.deepEqual(adapter.calls, ['subscribe x', 'subscribe y', 'unsubscribe x', 'unsubscribe y']);
    await hub.close();
    assert.equal(adapter.calls.at(-1), 'close');
  });

  it('messages from start(deliver) reach local subscribers and are not published back', async (t) => {
    const s = await setup(t);
    const peers = await s.open(3);
    const adapter = new FakeAdapter();
    const hub = new Hub({ adapter });
    await hub.ready();
    for (const p of peers.slice(0, 2)) hub.subscribe(p.server, 'remote');
    assert.ok(adapter.deliver);
    adapter.deliver('remote', { type: 'text', data: Buffer.from('from node 2') });
    adapter.deliver('remote', { type: 'binary', data: Buffer.from([0, 1, 2]) });
    adapter.deliver('elsewhere', { type: 'text', data: Buffer.from('not here') });
    await receivedAll(peers.slice(0, 2), 2);
    for (const p of peers.slice(0, 2)) {
      assert.deepEqual(p.received, [
        { type: 'text', data: 'from node 2' },
        { type: 'binary', data: Buffer.from([0, 1, 2]) },
      ]);
    }
    assert.equal(peers[2]!.received.length, 0);
    assert.equal(adapter.published.length, 0, 'nothing echoed back to the adapter');
  });

  it('an adapter failure is reported and local delivery goes on', async (t) => {
    const s = await setup(t);
    const [a] = await s.open(1);
    const adapter = new FakeAdapter();
    adapter.failPublish = true;
    const errors: unknown[] = [];
    const hub = new Hub({ adapter, onAdapterError: (e) => errors.push(e) });
    hub.subscribe(a!.server, 'x');
    assert.equal(hub.publish('x', 'local anyway'), 1);
    await receivedAll([a!], 1);
    assert.equal(text(a!.received[0]), 'local anyway');
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /backend down/);
  });
});
