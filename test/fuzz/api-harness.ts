// Random sequences of application calls on a real server/client pair over 127.0.0.1 — send, ping, pause/resume,
// nextReader, writer, close, terminate, hub subscribe/publish, server close() — with hostile listeners (throw, reject).
// Checked after each case: no crash or stall, both `closed` settle in time, every socket and timer released, the hub
// forgets closed peers, and every message arrives whole, in order, and (when nothing lossy happened) all of them.
import { once } from 'node:events';
import fc from 'fast-check';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { MessageReader } from '../../src/connection/streams.js';
import type { CloseInfo, Message } from '../../src/connection/types.js';
import { WebSocketError } from '../../src/errors.js';
import { Hub } from '../../src/hub.js';
import { WebSocketServer } from '../../src/server.js';
import { Stats } from '../../src/stats.js';
import { CaseWatch, deadline, endCase, FUZZ_TIMERS, HOSTILE, resources } from './watch.js';

const CLOSE_TIMEOUT = FUZZ_TIMERS.closeTimeout;
const TOPICS = ['a', 'b'] as const;

type Side = 'server' | 'client';

export type Action =
  | { op: 'send'; side: Side; size: number; binary: boolean; compress: boolean | null }
  | { op: 'ping'; side: Side; size: number }
  | { op: 'pause' | 'resume' | 'terminate'; side: Side }
  | { op: 'nextReader'; side: Side; consume: 'all' | 'destroy' }
  | { op: 'writer'; side: Side; pieces: number[]; binary: boolean; finish: 'end' | 'destroy' | 'leave-open' }
  | { op: 'close'; side: Side; code: number; reason: string }
  | { op: 'subscribe' | 'unsubscribe'; topic: number }
  | { op: 'publish'; topic: number; size: number; binary: boolean }
  | { op: 'serverClose' }
  | { op: 'tick'; ms: 0 | 1 | 5 };

export interface Hostility {
  /** Throw (sync) or reject (async) from the k-th 'message' listener call. */
  message: { at: number; async: boolean } | null;
  /** Throw from 'close', 'error' and 'ping' listeners. */
  others: boolean;
}

export interface ApiInput {
  compression: false | 'dedicated' | 'shared';
  heartbeat: boolean;
  small: boolean;
  onSlowConsumer: 'close' | 'drop';
  hostile: { server: Hostility; client: Hostility };
  actions: Action[];
  /** Which side closes first at the end. */
  closeFirst: Side;
}

const side = fc.constantFrom<Side>('server', 'client');
const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 4, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 80_000 }) },
);

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      side,
      size,
      binary: fc.boolean(),
      compress: fc.option(fc.boolean()),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ping' as const), side, size: fc.nat(125) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('pause' as const, 'resume' as const), side }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('terminate' as const), side }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('nextReader' as const),
      side,
      consume: fc.constantFrom('all' as const, 'all' as const, 'destroy' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('writer' as const),
      side,
      pieces: fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 4 }),
      binary: fc.boolean(),
      finish: fc.constantFrom(
        'end' as const,
        'end' as const,
        'end' as const,
        'destroy' as const,
        'leave-open' as const,
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('close' as const),
      side,
      code: fc.constantFrom(1000, 1001, 4000),
      reason: fc.string({ maxLength: 20 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constantFrom('subscribe' as const, 'unsubscribe' as const), topic: fc.nat(1) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('publish' as const), topic: fc.nat(1), size, binary: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'serverClose' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.constantFrom(0 as const, 1 as const, 5 as const) }),
  },
);

const hostility: fc.Arbitrary<Hostility> = fc.record({
  message: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.record({ at: fc.nat(6), async: fc.boolean() }) },
  ),
  others: fc.nat(3).map((n) => n === 0),
});

export const apiInputArb: fc.Arbitrary<ApiInput> = fc.record({
  compression: fc.constantFrom(false as const, 'dedicated' as const, 'shared' as const),
  heartbeat: fc.boolean(),
  small: fc.boolean(),
  onSlowConsumer: fc.constantFrom('close' as const, 'drop' as const),
  hostile: fc.record({ server: hostility, client: hostility }),
  actions: fc.array(action, { maxLength: 30, size: 'medium' }),
  closeFirst: side,
});

// ---- payloads: a sequence number first, then bytes derived from it, so order and wholeness can both be checked ------

function payload(seq: number, n: number, binary: boolean): Buffer {
  const head = binary ? Buffer.alloc(4) : Buffer.from(`${seq}|`);
  if (binary) head.writeUInt32BE(seq, 0);
  const body = Buffer.alloc(Math.max(0, n - head.length));
  // Text stays ASCII so that any cut between writer pieces is still valid UTF-8.
  for (let i = 0; i < body.length; i++) body[i] = binary ? (seq * 31 + i) & 0xff : 0x61 + ((seq + i) % 26);
  return Buffer.concat([head, body]);
}

function seqOf(type: 'text' | 'binary', data: Buffer): number {
  if (type === 'binary') return data.length >= 4 ? data.readUInt32BE(0) : -1;
  const bar = data.indexOf(0x7c);
  return bar > 0 ? Number(data.subarray(0, bar).toString()) : -1;
}

// ---- the run --------------------------------------------------------------------------------------------------------

interface Peer {
  conn: Connection;
  /** Messages in arrival order per channel: 'message' events, then streamed readers. */
  events: Message[];
  /** In the order of the claims; null: a reader that did not get its message whole. */
  streamed: Array<Message | null>;
  readers: Promise<void>[];
  pauses: number;
  /** A writer holds the channel (not yet 'close'd). */
  writing: boolean;
  /** Something happened that may lose messages sent by the other side to this one. */
  lossyIn: string[];
  closed: Promise<CloseInfo>;
}

function listen(conn: Connection, h: Hostility, got: Message[], onHostile: () => void): void {
  let n = 0;
  conn.on('message', (m) => {
    got.push(m);
    if (h.message && n++ === h.message.at) {
      onHostile();
      if (h.message.async) return Promise.reject(new Error(`${HOSTILE}: async message`)) as unknown as undefined;
      throw new Error(`${HOSTILE}: message`);
    }
  });
  // 'error' events are expected here (1011 after a hostile listener, resets after terminate): collected, not fatal.
  conn.on('error', () => {
    if (h.others) throw new Error(`${HOSTILE}: error`);
  });
  if (h.others) {
    conn.on('close', () => {
      throw new Error(`${HOSTILE}: close`);
    });
    conn.on('ping', () => {
      onHostile();
      throw new Error(`${HOSTILE}: ping`);
    });
  }
}

/** API misuse must fail with the library's own errors, never with a TypeError from inside it. */
function expectedThrow(err: unknown): void {
  if (err instanceof WebSocketError) return;
  throw new Error(`an API call threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
}

function readInto(peer: Peer, consume: 'all' | 'destroy'): void {
  const p = peer.conn.nextReader().then(
    async (reader: MessageReader) => {
      // Readers are handed messages in order, but a short one may finish reading before a long one claimed earlier:
      // the slot keeps the order of the claims.
      const slot = peer.streamed.length;
      peer.streamed.push(null);
      const parts: Buffer[] = [];
      reader.on('error', () => {});
      if (consume === 'destroy') {
        peer.lossyIn.push('reader destroyed');
        reader.destroy();
        return;
      }
      for await (const chunk of reader) parts.push(chunk as Buffer);
      if (reader.readableAborted) return;
      const data = Buffer.concat(parts);
      peer.streamed[slot] = reader.type === 'text' ? { type: 'text', data: data.toString() } : { type: 'binary', data };
    },
    (err: unknown) => expectedThrow(err),
  );
  peer.readers.push(
    p.catch((err: unknown) => {
      if (!(err instanceof WebSocketError) && !(err instanceof Error && /aborted|premature/i.test(err.message)))
        throw err;
    }),
  );
}

export async function runApiCase(input: ApiInput): Promise<void> {
  const baseline = resources();
  const watch = new CaseWatch();
  let failure: unknown = null;
  const limits = input.small
    ? { highWaterMark: 16 * 1024, maxBufferedBytes: 64 * 1024 }
    : { highWaterMark: 256 * 1024, maxBufferedBytes: 2 * 1024 * 1024 };
  const wss = new WebSocketServer({
    heartbeat: input.heartbeat ? { interval: 5_000, timeout: 5_000 } : false,
    ...FUZZ_TIMERS,
    compression: input.compression,
    onSlowConsumer: input.onSlowConsumer,
    ...limits,
  });
  const hub = new Hub();
  const clientStats = new Stats();
  const hostileFired = { server: false, client: false };
  try {
    const { port } = await wss.listen(0);
    const accepted = once(wss, 'connection');
    const clientConn = await connect(`ws://127.0.0.1:${port}/`, {
      closeTimeout: CLOSE_TIMEOUT,
      handshakeTimeout: 1_000,
      compression: input.compression,
      onSlowConsumer: input.onSlowConsumer,
      stats: clientStats,
      ...limits,
    });
    const [serverConn] = (await deadline(accepted, 1_000, "the server's connection")) as [Connection];
    const mk = (conn: Connection): Peer => ({
      conn,
      events: [],
      streamed: [],
      readers: [],
      pauses: 0,
      writing: false,
      lossyIn: [],
      closed: conn.closed,
    });
    const peers: Record<Side, Peer> = { server: mk(serverConn), client: mk(clientConn) };
    const other = (s: Side): Side => (s === 'server' ? 'client' : 'server');
    listen(serverConn, input.hostile.server, peers.server.events, () => {
      hostileFired.server = true;
    });
    listen(clientConn, input.hostile.client, peers.client.events, () => {
      hostileFired.client = true;
    });
    const sent = new Map<number, { from: Side; type: 'text' | 'binary'; data: Buffer }>();
    let seq = 0;
    const record = (from: Side, binary: boolean, data: Buffer): number => {
      const s = seq++;
      sent.set(s, { from, type: binary ? 'binary' : 'text', data });
      return s;
    };
    const queued = new Set<number>();
    const statsOf = (s: Side): Stats => (s === 'server' ? wss.stats : clientStats);
    /**
     * Whether a send was queued: send() also says false above the high-water mark, so this asks whether the
     * connection was open and the slow-consumer policy left the message alone.
     */
    const admitted = (from: Side, send: () => boolean): boolean => {
      const st = statsOf(from);
      const before = st.dropped + st.evicted;
      const open = peers[from].conn.readyState === 1;
      send();
      return open && st.dropped + st.evicted === before;
    };
    /** Closing while the other side is paused may legitimately end in the close timer: its traffic may be lost. */
    const closeWhilePaused = (from: Side): void => {
      if (peers[other(from)].pauses > 0) peers[other(from)].lossyIn.push('closed while the reader was paused');
      if (peers[from].pauses > 0) peers[from].lossyIn.push('closed while paused');
      // send-queue.ts: a close() while a writer holds the channel goes at once and drops the sends held behind it,
      // even when the writer was already ending (reported to the lead; see the report of this branch).
      if (peers[from].writing) peers[other(from)].lossyIn.push('closed while a writer held the channel');
      // Once the peer's close arrives, a writer that has not finished is abandoned (RFC 6455 §5.5.1 allows it).
      if (peers[other(from)].writing) peers[from].lossyIn.push('closed by the peer while its writer was open');
    };

    for (const a of input.actions) {
      switch (a.op) {
        case 'send': {
          const s = seq;
          const data = payload(s, a.size, a.binary);
          record(a.side, a.binary, data);
          const ok = admitted(a.side, () =>
            peers[a.side].conn.send(a.binary ? data : data.toString(), {
              binary: a.binary,
              ...(a.compress !== null ? { compress: a.compress } : {}),
            }),
          );
          if (ok) queued.add(s);
          break;
        }
        case 'ping':
          peers[a.side].conn.ping(Buffer.alloc(a.size, 0x70));
          break;
        case 'pause':
          peers[a.side].pauses++;
          peers[a.side].conn.pause();
          break;
        case 'resume':
          if (peers[a.side].pauses > 0) peers[a.side].pauses--;
          peers[a.side].conn.resume();
          break;
        case 'terminate':
          peers.server.lossyIn.push('terminated');
          peers.client.lossyIn.push('terminated');
          peers[a.side].conn.terminate();
          break;
        case 'nextReader':
          readInto(peers[a.side], a.consume);
          break;
        case 'writer': {
          let w: ReturnType<Connection['writer']>;
          // On a connection that is not open, writer() gives a writer that is already destroyed: nothing is sent.
          if (peers[a.side].conn.readyState !== 1) {
            const dead = peers[a.side].conn.writer(a.binary ? 'binary' : 'text');
            dead.on('error', () => {});
            dead.end();
            break;
          }
          try {
            w = peers[a.side].conn.writer(a.binary ? 'binary' : 'text');
          } catch (err) {
            expectedThrow(err);
            break;
          }
          const s = seq;
          const total = a.pieces.reduce((x, y) => x + y, 0);
          const data = payload(s, Math.max(total, 8), a.binary);
          record(a.side, a.binary, data);
          w.on('error', () => {});
          const writerSide = peers[a.side];
          writerSide.writing = true;
          w.once('close', () => {
            writerSide.writing = false;
          });
          let at = 0;
          for (const n of a.pieces) {
            w.write(data.subarray(at, at + n));
            at += n;
          }
          if (at < data.length) w.write(data.subarray(at));
          if (a.finish === 'end') {
            w.end();
            queued.add(s);
          } else {
            peers[other(a.side)].lossyIn.push(`writer ${a.finish}`);
            peers[a.side].lossyIn.push(`writer ${a.finish}`);
            if (a.finish === 'destroy') w.destroy();
          }
          break;
        }
        case 'close':
          closeWhilePaused(a.side);
          void peers[a.side].conn.close(a.code, a.reason.slice(0, 20));
          break;
        case 'subscribe':
          hub.subscribe(serverConn, TOPICS[a.topic]!);
          break;
        case 'unsubscribe':
          hub.unsubscribe(serverConn, TOPICS[a.topic]!);
          break;
        case 'publish': {
          const s = seq;
          const data = payload(s, a.size, a.binary);
          record('server', a.binary, data);
          const subscribed = hub.topicsOf(serverConn).includes(TOPICS[a.topic]!);
          const ok = admitted('server', () => hub.publish(TOPICS[a.topic]!, a.binary ? data : data.toString()) >= 0);
          if (ok && subscribed) queued.add(s);
          break;
        }
        case 'serverClose':
          closeWhilePaused('server');
          void wss.close();
          break;
        case 'tick':
          await new Promise((resolve) => (a.ms === 0 ? setImmediate(resolve) : setTimeout(resolve, a.ms)));
          break;
      }
    }

    // Wind down: let paused readers go, then close both sides (in the case's order) and wait, bounded.
    for (const p of Object.values(peers)) {
      while (p.pauses > 0) {
        p.pauses--;
        p.conn.resume();
      }
    }
    const first = input.closeFirst;
    closeWhilePaused('server');
    closeWhilePaused('client');
    void peers[first].conn.close(1000);
    void peers[other(first)].conn.close(1000);
    const settle = CLOSE_TIMEOUT * 3 + 2_000;
    await deadline(Promise.all([peers.server.closed, peers.client.closed]), settle, '`closed` on both sides');
    await deadline(wss.close(), settle, 'server close()');
    await deadline(Promise.all([...peers.server.readers, ...peers.client.readers]), settle, 'readers to settle');
    for (const t of TOPICS) if (hub.subscribers(t) !== 0) throw new Error(`the hub still holds a closed peer on ${t}`);
    await hub.close();
    if (wss.clients.size !== 0) throw new Error(`wss.clients still has ${wss.clients.size} after close`);
    if (serverConn.send('late') || clientConn.send('late')) throw new Error('a closed connection accepted a message');

    // Losses the case itself caused: slow-consumer evictions, heartbeat kills, failed handlers.
    const evicted = wss.stats.evicted + clientStats.evicted + wss.stats.heartbeatKills;
    if (evicted > 0) {
      peers.server.lossyIn.push('eviction');
      peers.client.lossyIn.push('eviction');
    }
    for (const s of ['server', 'client'] as const) {
      if (hostileFired[s]) {
        peers.server.lossyIn.push(`hostile ${s}`);
        peers.client.lossyIn.push(`hostile ${s}`);
      }
    }
    for (const to of ['server', 'client'] as const) {
      const from = other(to);
      const p = peers[to];
      const expected = [...queued].filter((s) => sent.get(s)!.from === from);
      const check = (channel: Message[], name: string): number[] => {
        const seqs: number[] = [];
        for (const m of channel) {
          const data = m.type === 'text' ? Buffer.from(m.data) : m.data;
          const s = seqOf(m.type, data);
          const want = sent.get(s);
          if (!want || want.from !== from)
            throw new Error(`${to} got a message nobody sent it (${name}, ${data.length} bytes)`);
          if (want.type !== m.type || !want.data.equals(data))
            throw new Error(`${to} got message #${s} damaged (${name})`);
          if (!queued.has(s)) throw new Error(`${to} got message #${s}, which send reported as not queued`);
          if (seqs.length > 0 && s <= seqs.at(-1)!) throw new Error(`${to} got #${s} after #${seqs.at(-1)} (${name})`);
          seqs.push(s);
        }
        return seqs;
      };
      const got = [
        ...check(p.events, 'message events'),
        ...check(
          p.streamed.filter((m): m is Message => m !== null),
          'readers',
        ),
      ].sort((a, b) => a - b);
      if (new Set(got).size !== got.length) throw new Error(`${to} got a message twice`);
      if (p.lossyIn.length === 0 && got.length !== expected.length) {
        const missing = expected.filter((s) => !got.includes(s));
        throw new Error(
          `${to} lost ${missing.length} of ${expected.length} messages (first #${missing[0]}) with nothing lossy in the case`,
        );
      }
    }
  } catch (err) {
    failure = err;
  }
  await deadline(wss.close(), 2_000, 'server close()').catch((err: unknown) => {
    failure ??= err;
  });
  // process.emitWarning() reports on a later tick: let the hostile listeners' warnings land in this case, not the next.
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  const report = watch.stop();
  if (failure) throw failure;
  await endCase(report, (w) => w.message.startsWith(HOSTILE), 64 * 2 ** 20, baseline);
}
