// Heartbeat (src/connection/heartbeat.ts) on a manual clock: silent peers die after interval + timeout with 1006,
// answering or chatty peers live, the client side drops a silent server, and many connections share one timer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { Heartbeat, type Pingable } from '../../src/connection/heartbeat.js';
import { ReadyState } from '../../src/connection/types.js';
import { WebSocketServer } from '../../src/server.js';
import { type ClockedServer, nextConnection, startClockedServer } from '../helpers/clocked-server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Op, openPeer, type RawPeer, within } from '../helpers/raw-peer.js';
import { startSilentServer } from '../helpers/stalled-peer.js';

const INTERVAL = 1_000;
const TIMEOUT = 400;
/** The sweep period the Heartbeat derives: a quarter of the shorter period. */
const TICK = 100;

type Setup = ClockedServer;

const setup = (t: TestContext): Promise<Setup> =>
  startClockedServer(t, { heartbeat: { interval: INTERVAL, timeout: TIMEOUT } });

/** Four heartbeat cycles in which `conn` gets a pong back each time. */
async function answersFourPings(s: Setup, conn: Connection): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const pong = once(conn, 'pong');
    s.clock.advance(INTERVAL);
    await within(pong, 5_000, `pong #${i + 1}`);
    s.clock.advance(TIMEOUT);
  }
}

async function openRaw(t: TestContext, s: Setup): Promise<{ peer: RawPeer; conn: Connection }> {
  const accepted = nextConnection(s.wss);
  const peer = await openPeer(t, s.port, { path: '/' });
  return { peer, conn: await accepted };
}

class FakeConn implements Pingable {
  readCount = 0;
  pings = 0;
  terminated = false;
  readonly answers: boolean;
  constructor(answers: boolean) {
    this.answers = answers;
  }
  ping(): void {
    this.pings++;
    // An answering peer's pong shows up as bytes read before the next sweep.
    if (this.answers) this.readCount += 2;
  }
  terminate(): void {
    this.terminated = true;
  }
}

describe('Heartbeat sweep (unit, fake connections)', () => {
  it('5,000 watched connections use one timer: one setTimeout per sweep, whatever the count', () => {
    const perSweep = (n: number): { calls: number[]; pendingMax: number; conns: FakeConn[]; kills: number } => {
      const clock = new ManualClock();
      let kills = 0;
      const hb = new Heartbeat({ interval: INTERVAL, timeout: TIMEOUT }, clock, () => kills++);
      const conns = Array.from({ length: n }, (_, i) => new FakeConn(i % 2 === 0));
      for (const c of conns) hb.add(c);
      const calls: number[] = [];
      let pendingMax = clock.pending;
      for (let i = 0; i < 20; i++) {
        const before = clock.setTimeoutCalls;
        clock.advance(TICK);
        calls.push(clock.setTimeoutCalls - before);
        pendingMax = Math.max(pendingMax, clock.pending);
      }
      hb.stop();
      return { calls, pendingMax, conns, kills };
    };
    const one = perSweep(1);
    const many = perSweep(5_000);
    assert.deepEqual(many.calls, one.calls, 'timer calls must not grow with the number of connections');
    assert.ok(
      many.calls.every((c) => c === 1),
      `one re-arm per sweep, got ${many.calls.join(',')}`,
    );
    assert.equal(many.pendingMax, 1, 'never more than one timer armed');
    // Over 2,000 ms: the silent half was pinged at 1,000 and killed at 1,400; the answering half lives on.
    const silent = many.conns.filter((c) => !c.answers);
    const answering = many.conns.filter((c) => c.answers);
    assert.equal(many.kills, 2_500);
    assert.ok(silent.every((c) => c.terminated && c.pings === 1));
    assert.ok(answering.every((c) => !c.terminated && c.pings >= 1));
  });

  it('terminates a silent peer exactly at interval + timeout, not a tick before', () => {
    const clock = new ManualClock();
    let kills = 0;
    const hb = new Heartbeat({ interval: INTERVAL, timeout: TIMEOUT }, clock, () => kills++);
    const c = new FakeConn(false);
    hb.add(c);
    clock.advance(INTERVAL - 1);
    assert.equal(c.pings, 0, 'no ping before the interval');
    clock.advance(1);
    assert.equal(c.pings, 1);
    clock.advance(TIMEOUT - 1);
    assert.equal(c.terminated, false);
    clock.advance(1);
    assert.equal(c.terminated, true);
    assert.equal(kills, 1);
    assert.equal(hb.size, 0);
    assert.equal(clock.pending, 0, 'the timer stops when nothing is watched');
  });

  it('a Pingable whose ping() throws is dropped with a warning; the sweep goes on for the others', (t) => {
    const clock = new ManualClock();
    const hb = new Heartbeat({ interval: INTERVAL, timeout: TIMEOUT }, clock);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const broken = new FakeConn(false);
    broken.ping = () => {
      throw new Error('ping failed');
    };
    const silent = new FakeConn(false);
    hb.add(broken);
    hb.add(silent);
    clock.advance(INTERVAL);
    assert.equal(hb.size, 1, 'the broken one is no longer watched');
    assert.equal(silent.pings, 1, 'the one after it was still pinged');
    clock.advance(TIMEOUT);
    assert.equal(silent.terminated, true, 'and still terminated on time');
    assert.equal(clock.pending, 0);
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.message, 'ping failed');
    });
  });

  it('stops its timer when the last connection is removed and restarts on add', () => {
    const clock = new ManualClock();
    const hb = new Heartbeat({ interval: INTERVAL, timeout: TIMEOUT }, clock);
    const a = new FakeConn(true);
    hb.add(a);
    assert.equal(clock.pending, 1);
    hb.delete(a);
    assert.equal(clock.pending, 0);
    hb.add(a);
    assert.equal(clock.pending, 1);
    hb.stop();
    assert.equal(clock.pending, 0);
  });

  it('rejects non-positive periods at construction', () => {
    const clock = new ManualClock();
    assert.throws(() => new Heartbeat({ interval: 0 }, clock), RangeError);
    assert.throws(() => new Heartbeat({ timeout: -5 }, clock), RangeError);
  });
});

describe('Server heartbeat (real sockets, manual clock)', () => {
  it('a peer that never answers pings is terminated after interval + timeout: 1006, heartbeatKills 1', async (t) => {
    const s = await setup(t);
    const { peer, conn } = await openRaw(t, s);
    s.clock.advance(INTERVAL + TIMEOUT - 1);
    const ping = await peer.nextFrame();
    assert.equal(ping.opcode, Op.Ping, 'the server pinged the idle peer');
    assert.equal(s.wss.stats.heartbeatKills, 0);
    assert.equal(conn.readyState, ReadyState.Open);
    s.clock.advance(1);
    assert.equal(s.wss.stats.heartbeatKills, 1);
    const info = await within(conn.closed, 5_000, 'conn.closed');
    assert.deepEqual(info, { code: 1006, reason: '', wasClean: false });
    await within(peer.tcpClosed, 5_000, 'the peer to see TCP close');
    assert.equal(s.wss.clients.size, 0);
    assert.equal(s.wss.stats.connectionsOpen, 0);
  });

  it('our client answers pings and stays connected', async (t) => {
    const s = await setup(t);
    const accepted = nextConnection(s.wss);
    const client = await connect(`ws://127.0.0.1:${s.port}/`);
    t.after(() => client.terminate());
    const conn = await accepted;
    await answersFourPings(s, conn);
    assert.equal(conn.readyState, ReadyState.Open);
    assert.equal(client.readyState, ReadyState.Open);
    assert.equal(s.wss.stats.heartbeatKills, 0);
  });

  it('a ws client answers pings and stays connected', async (t) => {
    const s = await setup(t);
    const accepted = nextConnection(s.wss);
    const ws = new WsClient(`ws://127.0.0.1:${s.port}/`);
    t.after(() => ws.terminate());
    await within(once(ws, 'open'), 5_000, 'ws open');
    const conn = await accepted;
    await answersFourPings(s, conn);
    assert.equal(conn.readyState, ReadyState.Open);
    assert.equal(ws.readyState, WsClient.OPEN);
    assert.equal(s.wss.stats.heartbeatKills, 0);
  });

  it('a peer that sends data but never pongs stays alive (any data counts), and dies once it goes quiet', async (t) => {
    const s = await setup(t);
    const { peer, conn } = await openRaw(t, s);
    for (let i = 0; i < 4; i++) {
      s.clock.advance(INTERVAL);
      const f = await peer.nextFrame();
      assert.equal(f.opcode, Op.Ping);
      const got = once(conn, 'message');
      await peer.sendText(`still here ${i}`);
      await within(got, 5_000, 'the message');
      s.clock.advance(TIMEOUT);
      assert.equal(conn.readyState, ReadyState.Open, `alive after cycle ${i + 1}`);
    }
    assert.equal(s.wss.stats.heartbeatKills, 0);
    // Quiet from here: the next ping goes unanswered and the peer is dropped.
    s.clock.advance(INTERVAL + TIMEOUT + TICK);
    assert.equal(s.wss.stats.heartbeatKills, 1);
    assert.equal((await within(conn.closed, 5_000, 'conn.closed')).code, 1006);
  });

  it('heartbeat: false arms no timer', async (t) => {
    const clock = new ManualClock();
    const wss = new WebSocketServer({ clock, heartbeat: false });
    const { port } = await wss.listen(0, '127.0.0.1');
    t.after(() => wss.close());
    const accepted = nextConnection(wss);
    const client = await connect(`ws://127.0.0.1:${port}/`);
    t.after(() => client.terminate());
    await accepted;
    assert.equal(clock.pending, 0);
  });

  it('200 real connections are watched by one armed timer', async (t) => {
    const s = await setup(t);
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect(`ws://127.0.0.1:${s.port}/`)));
    t.after(() => {
      for (const c of clients) c.terminate();
    });
    await within(
      (async () => {
        while (s.wss.clients.size < 200) await new Promise((r) => setImmediate(r));
      })(),
      5_000,
      '200 server connections',
    );
    assert.equal(s.clock.pending, 1);
    const before = s.clock.setTimeoutCalls;
    s.clock.advance(TICK * 3);
    assert.equal(s.clock.setTimeoutCalls - before, 3, 'one timer per sweep for 200 connections');
    assert.equal(s.clock.pending, 1);
  });
});

describe('Client heartbeat', () => {
  it('drops a silent server after interval + timeout (1006)', async (t) => {
    const server = await startSilentServer();
    t.after(() => server.close());
    const clock = new ManualClock();
    const conn = await connect(server.url, { clock, heartbeat: { interval: INTERVAL, timeout: TIMEOUT } });
    t.after(() => conn.terminate());
    clock.advance(INTERVAL + TIMEOUT - 1);
    assert.equal(conn.readyState, ReadyState.Open);
    clock.advance(1);
    const info = await within(conn.closed, 5_000, 'the client to drop the server');
    assert.deepEqual(info, { code: 1006, reason: '', wasClean: false });
    assert.equal(clock.pending, 0, 'the client heartbeat stopped with the connection');
  });

  it('is off by default on the client', async (t) => {
    const server = await startSilentServer();
    t.after(() => server.close());
    const clock = new ManualClock();
    const conn = await connect(server.url, { clock });
    t.after(() => conn.terminate());
    assert.equal(clock.pending, 0);
    clock.advance(10 * (INTERVAL + TIMEOUT));
    assert.equal(conn.readyState, ReadyState.Open);
  });
});
