// Graceful shutdown (RFC 6455 §7.4.1 1001 "going away"): `switchboard serve` on SIGTERM, and wss.close() in process;
// plus the observability that goes with a connection's life: wss.stats counters and node:diagnostics_channel events.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import type { CloseInfo } from '../../src/connection/types.js';
import { HandshakeError } from '../../src/errors.js';
import { WebSocketServer } from '../../src/server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Op, openPeer, within } from '../helpers/raw-peer.js';

// dist/test/integration → the package root, where bin/switchboard.js lives.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Served {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

async function serve(t: TestContext, ...flags: string[]): Promise<Served> {
  const child = spawn(
    process.execPath,
    ['bin/switchboard.js', 'serve', '--host', '127.0.0.1', '--port', '0', ...flags],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    out += d;
  });
  const port = await within(
    new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: string) => {
        out += d;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`serve exited early:\n${out}`)));
    }),
    10_000,
    'the "listening on" line',
  );
  assert.notEqual(port, 0, 'port 0 prints the real port');
  return { child, port, exited, output: () => out };
}

describe('switchboard serve: SIGTERM', () => {
  it('every client receives 1001 and the process exits 0 within the deadline', async (t) => {
    const s = await serve(t, '--shutdown-timeout', '3000');
    const urls = ['/echo', '/echo', '/broadcast', '/broadcast', '/echo'].map((p) => `ws://127.0.0.1:${s.port}${p}`);
    const clients = await Promise.all(urls.map((u) => connect(u)));
    t.after(() => {
      for (const c of clients) c.terminate();
    });
    // Each is really served: one echo round trip.
    const echoed = once(clients[0]!, 'message');
    clients[0]!.send('ping?');
    assert.deepEqual((await within(echoed, 5_000, 'the echo'))[0], { type: 'text', data: 'ping?' });

    const started = performance.now();
    s.child.kill('SIGTERM');
    const infos = await within(Promise.all(clients.map((c) => c.closed)), 5_000, 'every client to be closed');
    for (const info of infos) assert.deepEqual(info, { code: 1001, reason: 'server shutting down', wasClean: true });
    const exit = await within(s.exited, 5_000, 'the process to exit');
    const elapsed = performance.now() - started;
    assert.deepEqual(exit, { code: 0, signal: null }, s.output());
    // Every client answered at once, so nobody waited for the 3 s shutdown timeout.
    assert.ok(elapsed < 2_500, `exited ${elapsed.toFixed(0)} ms after SIGTERM`);
    assert.match(s.output(), /SIGTERM: closing 5 connection\(s\) with 1001/);
  });

  it('a client that never answers the close is terminated after --shutdown-timeout; the process still exits 0', async (t) => {
    const TIMEOUT = 700;
    const s = await serve(t, '--shutdown-timeout', String(TIMEOUT));
    const good = await connect(`ws://127.0.0.1:${s.port}/echo`);
    t.after(() => good.terminate());
    const mute = await openPeer(t, s.port, { path: '/echo' });
    // The mute peer is really connected: an echo round trip.
    await mute.sendText('here');
    await mute.expectEcho('here');

    const started = performance.now();
    s.child.kill('SIGTERM');
    const close = await mute.nextFrame(5_000);
    assert.equal(close.opcode, Op.Close);
    assert.equal(close.payload.readUInt16BE(0), 1001);
    assert.equal((await within(good.closed, 5_000, 'the answering client')).code, 1001);
    // The mute peer says nothing; the server must cut it off by itself.
    await within(mute.tcpClosed, TIMEOUT + 5_000, 'the server to drop the mute peer');
    const exit = await within(s.exited, TIMEOUT + 5_000, 'the process to exit');
    const elapsed = performance.now() - started;
    assert.deepEqual(exit, { code: 0, signal: null }, s.output());
    assert.ok(elapsed >= TIMEOUT - 50, `waited for the shutdown timeout (${elapsed.toFixed(0)} ms)`);
    assert.ok(elapsed < TIMEOUT + 3_000, `exited ${elapsed.toFixed(0)} ms after SIGTERM`);
  });
});

describe('wss.close() in process', () => {
  it('sends 1001 to every peer and resolves once they are closed', async (t) => {
    const wss = new WebSocketServer({ heartbeat: false });
    const { port } = await wss.listen(0, '127.0.0.1');
    t.after(() => wss.close());
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect(`ws://127.0.0.1:${port}/`)));
    t.after(() => {
      for (const c of clients) c.terminate();
    });
    const end = Date.now() + 5_000;
    while (wss.clients.size < 10) {
      assert.ok(Date.now() < end, 'ten server connections');
      await new Promise((r) => setImmediate(r));
    }
    await within(wss.close(), 5_000, 'wss.close()');
    assert.equal(wss.clients.size, 0);
    assert.equal(wss.stats.connectionsOpen, 0);
    const infos = await Promise.all(clients.map((c) => c.closed));
    for (const info of infos) assert.deepEqual(info, { code: 1001, reason: 'server shutting down', wasClean: true });
    assert.equal(wss.close(), wss.close(), 'close() is idempotent');
  });

  it('new upgrades during (and after) shutdown get 503; a mute peer is terminated at shutdownTimeout', async (t) => {
    const clock = new ManualClock();
    const wss = new WebSocketServer({ heartbeat: false, clock, shutdownTimeout: 1_000 });
    const http = createServer();
    wss.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const port = (http.address() as AddressInfo).port;
    const mute = await openPeer(t, port, { path: '/' });
    const end = Date.now() + 5_000;
    while (wss.clients.size < 1) {
      assert.ok(Date.now() < end, 'the server connection');
      await new Promise((r) => setImmediate(r));
    }
    const [conn] = [...wss.clients] as [Connection];
    let done = false;
    const closing = wss.close().then(() => {
      done = true;
    });
    const f = await mute.nextFrame();
    assert.equal(f.opcode, Op.Close);
    assert.equal(f.payload.readUInt16BE(0), 1001);

    const refused = await connect(`ws://127.0.0.1:${port}/`).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof HandshakeError, String(refused));
    assert.equal(refused.status, 503);
    assert.equal(done, false, 'still waiting for the mute peer');

    clock.advance(999);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    clock.advance(1);
    await within(closing, 5_000, 'wss.close() after the shutdown timeout');
    const info: CloseInfo = await conn.closed;
    assert.equal(info.code, 1001);
    assert.equal(info.wasClean, false, 'the peer never answered');
    await within(mute.tcpClosed, 5_000, 'the mute peer to be dropped');

    const after = await connect(`ws://127.0.0.1:${port}/`).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(after instanceof HandshakeError);
    assert.equal(after.status, 503);
    assert.ok(wss.stats.handshakeFailures >= 2);
  });
});

describe('observability', () => {
  it('stats count connections, messages and bytes; diagnostics_channel publishes open and close', async (t) => {
    const wss = new WebSocketServer({ heartbeat: false });
    const { port } = await wss.listen(0, '127.0.0.1');
    t.after(() => wss.close());
    const opened: unknown[] = [];
    const closed: Array<{ connection: unknown; info: CloseInfo }> = [];
    const onOpen = (m: unknown): void => {
      opened.push((m as { connection: unknown }).connection);
    };
    const onClose = (m: unknown): void => {
      closed.push(m as { connection: unknown; info: CloseInfo });
    };
    subscribe('switchboard:connection:open', onOpen);
    subscribe('switchboard:connection:close', onClose);
    t.after(() => {
      unsubscribe('switchboard:connection:open', onOpen);
      unsubscribe('switchboard:connection:close', onClose);
    });
    const server: Connection[] = [];
    wss.on('connection', (conn) => {
      server.push(conn);
      conn.on('message', (m) => conn.send(m.data));
    });
    const clients = await Promise.all([0, 1, 2].map(() => connect(`ws://127.0.0.1:${port}/`)));
    t.after(() => {
      for (const c of clients) c.terminate();
    });
    const end = Date.now() + 5_000;
    while (server.length < 3) {
      assert.ok(Date.now() < end, 'three server connections');
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(wss.stats.connectionsOpen, 3);
    assert.equal(wss.stats.connectionsTotal, 3);
    for (const s of server) assert.ok(opened.includes(s), 'open published for each server connection');

    // 10 text messages of 5 bytes per client: in, 2 + 4 (mask) + 5 bytes each; out (echo), 2 + 5.
    const echoes = clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          let n = 0;
          c.on('message', () => {
            if (++n === 10) resolve();
          });
        }),
    );
    for (const c of clients) for (let i = 0; i < 10; i++) c.send('hello');
    await within(Promise.all(echoes), 5_000, 'the echoes');
    assert.equal(wss.stats.messagesIn, 30);
    assert.equal(wss.stats.messagesOut, 30);
    assert.equal(wss.stats.bytesIn, 30 * 11);
    assert.equal(wss.stats.bytesOut, 30 * 7);

    await clients[0]!.close(1000, 'done');
    await within(server[0]!.closed, 5_000, 'the server side');
    assert.equal(wss.stats.connectionsOpen, 2);
    const mine = closed.find((c) => c.connection === server[0]);
    assert.ok(mine, 'close published for the closed connection');
    assert.deepEqual(mine.info, { code: 1000, reason: 'done', wasClean: true });
    clients[1]!.terminate();
    await within(server[1]!.closed, 5_000, 'the terminated one');
    assert.equal(wss.stats.connectionsOpen, 1);
    assert.equal(closed.find((c) => c.connection === server[1])?.info.code, 1006);
    assert.equal(wss.stats.dropped + wss.stats.evicted + wss.stats.heartbeatKills + wss.stats.protocolErrors, 0);
  });
});
