// `switchboard serve` flags as a child process really applies them: the message cap (1 MiB by default, 16 MiB on
// request: the conformance contract), the compression threshold, the heartbeat, the slow-consumer cap and policy, listen errors, and Redis
// (fail fast at startup when it is not there; warn while running when it goes away).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { DeflatePeer } from '../helpers/deflate-peer.js';
import { startRedisServer, skipWithoutRedis } from '../helpers/redis-server.js';
import { RawPeer, within } from '../helpers/raw-peer.js';
import { StalledPeer } from '../helpers/stalled-peer.js';
import { runCli, startServe } from './cli-process.js';

const MiB = 1024 * 1024;

async function client(t: TestContext, port: number, path: string): Promise<Connection> {
  const conn = await connect(`ws://127.0.0.1:${port}${path}`, { maxMessageSize: 32 * MiB });
  t.after(() => conn.terminate());
  return conn;
}

/** Sends `size` bytes and resolves with what came back first: the echo's length, or the close code. */
async function roundTrip(conn: Connection, size: number): Promise<{ echoed: number } | { closed: number }> {
  const reply = new Promise<{ echoed: number } | { closed: number }>((resolve) => {
    conn.once('message', (msg) => resolve({ echoed: msg.data.length }));
    conn.closed.then((info) => resolve({ closed: info.code }));
  });
  conn.send(Buffer.alloc(size, 0x61));
  return within(reply, 20_000, `the answer to ${size} bytes`);
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('switchboard serve: message size', () => {
  it('accepts messages up to 1 MiB by default; one byte more closes with 1009, on /echo and /broadcast', async (t) => {
    const served = await startServe(t, []);
    for (const path of ['/echo', '/broadcast']) {
      assert.deepEqual(await roundTrip(await client(t, served.port, path), MiB), { echoed: MiB }, path);
      assert.deepEqual(await roundTrip(await client(t, served.port, path), MiB + 1), { closed: 1009 }, path);
    }
  });

  for (const flag of ['16777216', '16MiB']) {
    it(`--max-message-size ${flag}: 16 MiB round trips on /echo and /broadcast (the conformance contract)`, async (t) => {
      const served = await startServe(t, ['--host', '127.0.0.1', '--max-message-size', flag]);
      for (const path of ['/echo', '/broadcast']) {
        const conn = await client(t, served.port, path);
        assert.deepEqual(await roundTrip(conn, 16 * MiB), { echoed: 16 * MiB }, path);
        assert.deepEqual(await roundTrip(conn, 16 * MiB + 1), { closed: 1009 }, path);
      }
    });
  }
});

describe('switchboard serve: compression threshold', () => {
  // RSV1 on the echo says whether the server compressed it (RFC 7692 §6); the payloads compress well, so only the
  // threshold decides.
  const echoCompressed = async (peer: DeflatePeer, size: number): Promise<boolean> => {
    const text = 'ab'.repeat(size).slice(0, size);
    await peer.send(text, { compress: false });
    const msg = await peer.nextMessage(5_000);
    assert.equal(msg.data.toString(), text);
    return msg.compressed;
  };

  it('--compression-threshold 100: 99 bytes go back uncompressed, 100 compressed, on /echo and /broadcast', async (t) => {
    const served = await startServe(t, ['--compression-threshold', '100']);
    for (const path of ['/echo', '/broadcast']) {
      const peer = await DeflatePeer.open(served.port, { path });
      t.after(() => peer.close());
      assert.ok(peer.agreement, 'permessage-deflate negotiated');
      assert.equal(await echoCompressed(peer, 99), false, `${path}: 99 B`);
      assert.equal(await echoCompressed(peer, 100), true, `${path}: 100 B`);
    }
  });

  it('--compression-threshold 0 --compression shared: even an empty message goes back compressed', async (t) => {
    const served = await startServe(t, ['--compression', 'shared', '--compression-threshold', '0']);
    const peer = await DeflatePeer.open(served.port, { path: '/echo' });
    t.after(() => peer.close());
    assert.equal(await echoCompressed(peer, 0), true);
    assert.equal(await echoCompressed(peer, 1), true);
  });
});

describe('switchboard serve: heartbeat', () => {
  it('--heartbeat-interval and --heartbeat-timeout: a silent peer is pinged, then terminated', async (t) => {
    const served = await startServe(t, ['--heartbeat-interval', '100', '--heartbeat-timeout', '100']);
    const peer = await RawPeer.open(served.port, { path: '/echo' });
    t.after(() => peer.destroy());
    const started = performance.now();
    await peer.expectPing(5_000);
    await peer.expectTcpClose(5_000);
    assert.ok(performance.now() - started < 5_000);
  });

  it('--no-heartbeat: a silent peer gets no ping while one under a 100 ms heartbeat is pinged and dropped', async (t) => {
    const [off, on] = await Promise.all([
      startServe(t, ['--no-heartbeat']),
      startServe(t, ['--heartbeat-interval', '100', '--heartbeat-timeout', '100']),
    ]);
    const quiet = await RawPeer.open(off.port, { path: '/echo' });
    const watched = await RawPeer.open(on.port, { path: '/echo' });
    t.after(() => {
      quiet.destroy();
      watched.destroy();
    });
    // `quiet` has been silent at least as long as `watched`, which the heartbeat had time to ping and drop.
    await watched.expectPing(5_000);
    await watched.expectTcpClose(5_000);
    assert.equal(quiet.pendingFrames.length, 0, 'no frame at all on the server without heartbeat');
    // And it is still served.
    await quiet.sendText('still here');
    await quiet.expectEcho('still here');
  });
});

const SENT = 384;

describe('switchboard serve: slow consumers', () => {
  // A publisher on /broadcast sends 24 MiB while a subscriber reads nothing: far past kernel buffers and a 1 MiB cap.
  // It sends one message at a time, waiting for its own copy, so that it is never a slow consumer itself.
  const burst = async (t: TestContext, port: number): Promise<{ stalled: StalledPeer; publisher: Connection }> => {
    const stalled = await StalledPeer.open(port, '/broadcast');
    t.after(() => stalled.destroy());
    const publisher = await client(t, port, '/broadcast');
    for (let i = 0; i < SENT; i++) {
      const back = new Promise((resolve) => publisher.once('message', resolve));
      publisher.send(Buffer.alloc(64 * 1024, i));
      await within(back, 10_000, `message ${i} back to the publisher`);
    }
    return { stalled, publisher };
  };
  it('--on-slow-consumer close with --max-buffered-bytes 1MiB: the peer that does not read is closed', async (t) => {
    const served = await startServe(t, ['--max-buffered-bytes', '1MiB', '--on-slow-consumer', 'close']);
    const { stalled } = await burst(t, served.port);
    // What it was sent before the eviction, then the close (1008) and the end of TCP (at the close timeout at most).
    stalled.resume();
    await within(stalled.closed, 10_000, 'the slow consumer to be closed');
    const close = stalled.frames.find((f) => f.opcode === 8);
    if (close) assert.equal(close.payload.readUInt16BE(0), 1008);
    assert.ok(stalled.frames.filter((f) => f.opcode === 2).length < SENT, 'not everything reached it');
  });

  it('--on-slow-consumer drop: the peer stays open and misses messages instead', async (t) => {
    const served = await startServe(t, ['--max-buffered-bytes', '1MiB', '--on-slow-consumer', 'drop']);
    const { stalled, publisher } = await burst(t, served.port);
    stalled.resume();
    // Once it has caught up, a small message reaches it: the connection was never closed. (Sent again until it
    // arrives: while its backlog drains, the peer is still over the cap and a message may be dropped.)
    const sawEnd = (): boolean => stalled.frames.some((f) => f.opcode === 1 && f.payload.toString() === 'end');
    for (let i = 0; i < 100 && !sawEnd(); i++) {
      publisher.send('end');
      await stalled.waitFrames(sawEnd, 100).catch(() => {});
    }
    assert.ok(sawEnd(), 'the marker arrived');
    const big = stalled.frames.filter((f) => f.opcode === 2).length;
    assert.ok(big < SENT, `it received ${big} of ${SENT}: some were dropped`);
    assert.ok(!stalled.frames.some((f) => f.opcode === 8), 'no close frame');
  });
});

describe('switchboard serve: cannot start', () => {
  it('a port in use: exit 1 saying so, with what to do', async (t) => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    t.after(() => holder.close());
    const { port } = holder.address() as AddressInfo;
    const run = await runCli(['serve', '--host', '127.0.0.1', '--port', String(port)]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    assert.equal(run.stdout, '');
  });
});

describe('switchboard serve --redis', { skip: skipWithoutRedis }, () => {
  it('Redis not there: exit 1 after --redis-wait, saying why, without listening; the password is not printed', async () => {
    const port = await freePort();
    const started = performance.now();
    const run = await runCli([
      'serve',
      '--port',
      '0',
      '--redis',
      `redis://:s3cret@127.0.0.1:${port}`,
      '--redis-wait',
      '300',
    ]);
    const elapsed = performance.now() - started;
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} did not answer within 300 ms`),
    );
    assert.match(run.stderr, /ECONNREFUSED/);
    assert.ok(!run.stderr.includes('s3cret'), 'password masked');
    assert.doesNotMatch(run.stdout, /listening/);
    assert.ok(elapsed < 10_000, `exited after ${Math.round(elapsed)} ms`);
  });

  it('a port in use with --redis: exit 1 at once, not a process held open by its Redis clients', async (t) => {
    const redis = await startRedisServer(t);
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    t.after(() => holder.close());
    const { port } = holder.address() as AddressInfo;
    const run = await runCli(['serve', '--port', String(port), '--redis', redis.url], { timeout: 10_000 });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the port is in use/);
  });

  it('Redis going away while serving: a warning on stderr, local clients still served, then "back"', async (t) => {
    const redis = await startRedisServer(t);
    const served = await startServe(t, ['--redis', redis.url]);
    assert.match(served.output(), /cluster node via redis:\/\/127\.0\.0\.1:\d+/);
    const conn = await client(t, served.port, '/echo');
    await redis.stop();
    await served.waitForOutput(
      /warning: lost Redis at redis:\/\/127\.0\.0\.1:\d+\/? \(.+\); local clients are still served/,
    );
    assert.deepEqual(await roundTrip(conn, 10), { echoed: 10 });
    await redis.start();
    await served.waitForOutput(/Redis at redis:\/\/127\.0\.0\.1:\d+\/? is back after \d+ ms/);
    assert.equal(await served.stop(), 0);
  });
});
