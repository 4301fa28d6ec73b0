// permessage-deflate failure rules over real sockets: RSV1 (RFC 7692 §6, §6.1; RFC 6455 §5.2, §5.5), corrupt
// deflate data and invalid UTF-8 after inflation (1007), decompression bombs against maxMessageSize (1009) with the
// server's memory watched in a child process, and the `switchboard serve --compression` flag.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { constants as zc, deflateRawSync } from 'node:zlib';
import { type CloseInfo, type Connection, WebSocketServer } from '../../src/index.js';
import { useDemo } from '../helpers/demo.js';
import { livePool } from '../../src/extensions/live-deflate.js';
import { DeflatePeer, prng, textOfSize, zeroBomb } from '../helpers/deflate-peer.js';
import { encodeFrame, Op, within } from '../helpers/raw-peer.js';

const MiB = 1024 * 1024;

function rawDeflate(data: Buffer, dictionary?: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: zc.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) });
  return out.subarray(0, out.length - 4);
}

describe("RSV1 rules and invalid compressed data on the demo /echo ('dedicated')", () => {
  const demo = useDemo({ maxMessageSize: 16 * MiB, compression: 'dedicated', shutdownTimeout: 1000 });

  async function open(t: { after(fn: () => void): void }, offers?: null): Promise<DeflatePeer> {
    const peer = await DeflatePeer.open(demo.port, offers === null ? { offers: null } : {});
    t.after(() => peer.close());
    return peer;
  }

  test('RSV1 on a continuation frame of a compressed message → 1002', async (t) => {
    const peer = await open(t);
    const payload = await peer.compress(Buffer.from(textOfSize(600, prng(1))));
    await peer.raw.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Text, payload: payload.subarray(0, 10), fin: false, rsv: 4 }),
        encodeFrame({ opcode: Op.Continuation, payload: payload.subarray(10), rsv: 4 }),
      ]),
    );
    await peer.raw.expectClose(1002);
  });

  test('RSV1 on a continuation frame of an uncompressed message → 1002', async (t) => {
    const peer = await open(t);
    const payload = await peer.compress(Buffer.from('hello hello hello hello hello hello'));
    await peer.raw.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Binary, payload: Buffer.from('plain start'), fin: false }),
        encodeFrame({ opcode: Op.Continuation, payload, rsv: 4 }),
      ]),
    );
    await peer.raw.expectClose(1002);
  });

  test('RSV1 when no extension was negotiated → 1002', async (t) => {
    const peer = await open(t, null);
    assert.equal(peer.extensionHeader, undefined);
    await peer.raw.sendText('fine');
    const echo = await peer.raw.nextFrame();
    assert.equal(echo.rsv, 0, 'no RSV1 from the server either');
    await peer.raw.send({ opcode: Op.Text, payload: rawDeflate(Buffer.from('compressed anyway')), rsv: 4 });
    await peer.raw.expectClose(1002);
  });

  for (const [name, opcode, payload] of [
    ['ping', Op.Ping, Buffer.from('x')],
    ['pong', Op.Pong, Buffer.alloc(0)],
    ['close', Op.Close, Buffer.from([0x03, 0xe8])],
  ] as const) {
    test(`RSV1 on a ${name} frame of a compressing connection → 1002`, async (t) => {
      const peer = await open(t);
      await peer.raw.send({ opcode, payload, rsv: 4 });
      await peer.raw.expectClose(1002);
    });
  }

  test('RSV2 and RSV3 stay illegal with permessage-deflate → 1002', async (t) => {
    for (const rsv of [2, 1, 6]) {
      const peer = await open(t);
      await peer.raw.send({ opcode: Op.Text, payload: 'x', rsv });
      await peer.raw.expectClose(1002);
    }
  });

  test('an uncompressed message (RSV1 clear) on a compressing connection is accepted', async (t) => {
    const peer = await open(t);
    const data = Buffer.from(textOfSize(2000, prng(2)));
    await peer.send(data, { compress: false, type: 'text' });
    assert.equal((await peer.expectEcho(data, 'text')).compressed, true);
    await peer.send(data, { type: 'text' });
    await peer.expectEcho(data, 'text');
  });

  for (const [name, make] of [
    ['invalid block type', () => Buffer.from([0xff, 0xff, 0xff, 0xff])],
    [
      'a reference to a window the server never saw',
      () => rawDeflate(Buffer.from('0123456789abcdef'.repeat(8)), Buffer.from('0123456789abcdef'.repeat(8))),
    ],
    ['stored block with a wrong length complement', () => Buffer.from([0x00, 0x05, 0x00, 0x00, 0x00, 0x61, 0x62])],
  ] as const) {
    test(`corrupt deflate data (${name}) → 1007`, async (t) => {
      const peer = await open(t);
      await peer.sendPayload(make(), { type: 'binary', rsv1: true });
      await peer.raw.expectClose(1007);
    });
  }

  test('corrupt deflate data after good context-taking messages → 1007', async (t) => {
    const peer = await open(t);
    for (let i = 0; i < 5; i++) {
      const data = Buffer.from(textOfSize(1000, prng(i)));
      await peer.send(data);
      await peer.expectEcho(data);
    }
    // A first byte of 0x06 opens a block of the reserved type 3 (RFC 1951 §3.2.3), which no inflater accepts;
    // random bytes would now and then happen to inflate.
    const corrupt = Buffer.concat([Buffer.from([0x06]), Buffer.from(textOfSize(63, prng(9)))]);
    await peer.sendPayload(corrupt, { type: 'binary', rsv1: true, fragment: 16 });
    await peer.raw.expectClose(1007);
  });

  test('a compressed text message that inflates to invalid UTF-8 → 1007, whole or fragmented', async (t) => {
    for (const fragment of [0, 1, 5]) {
      const peer = await open(t);
      const bad = Buffer.concat([
        Buffer.from(textOfSize(300, prng(3))),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('tail'),
      ]);
      await peer.send(bad, { type: 'text', ...(fragment ? { fragment } : {}) });
      await peer.raw.expectClose(1007);
    }
  });

  test('a compressed text message split inside a code point across fragments is valid', async (t) => {
    const peer = await open(t);
    const data = Buffer.from('🎉☃東京'.repeat(50));
    await peer.send(data, { type: 'text', fragment: 1 });
    await peer.expectEcho(data, 'text');
  });
});

describe('decompression bombs against a WebSocketServer with maxMessageSize 1 MiB', () => {
  let wss: WebSocketServer;
  let port: number;
  const closes: CloseInfo[] = [];
  before(async () => {
    wss = new WebSocketServer({ compression: 'dedicated', maxMessageSize: MiB, heartbeat: false });
    wss.on('connection', (conn: Connection) => {
      conn.on('message', (m) => conn.send(m.data));
      void conn.closed.then((info) => closes.push(info));
    });
    port = (await wss.listen(0)).port;
  });
  after(() => wss.close());

  async function open(t: { after(fn: () => void): void }): Promise<DeflatePeer> {
    const peer = await DeflatePeer.open(port, { path: '/' });
    t.after(() => peer.close());
    return peer;
  }

  test('exactly maxMessageSize after inflation is accepted; one byte more → 1009', async (t) => {
    const peer = await open(t);
    await peer.send(Buffer.alloc(MiB, 0x61));
    await peer.expectEcho(Buffer.alloc(MiB, 0x61));
    await peer.send(Buffer.alloc(MiB + 1, 0x61));
    await peer.raw.expectClose(1009);
  });

  test('an incompressible message of exactly maxMessageSize is accepted (deflate expands it a little)', async (t) => {
    const peer = await open(t);
    const data = randomBytes(MiB);
    const wire = await peer.send(data);
    assert.ok(wire.length > MiB, `compressed to ${wire.length} bytes`);
    await peer.expectEcho(data);
  });

  test('a 2 KiB frame inflating to 2 MiB → 1009 at once; the server serves the next client', async (t) => {
    const bomb = await zeroBomb(2 * MiB);
    assert.ok(bomb.length < 2100, `bomb is ${bomb.length} bytes`);
    const peer = await open(t);
    const started = Date.now();
    await peer.sendPayload(bomb, { rsv1: true });
    const { reason } = await peer.raw.expectClose(1009);
    assert.match(reason, /exceeds/);
    assert.ok(Date.now() - started < 3000, `1009 took ${Date.now() - started} ms`);
    const next = await open(t);
    const data = Buffer.from(textOfSize(5000, prng(9)));
    await next.send(data);
    await next.expectEcho(data);
  });

  test('a fragmented 256 MiB bomb (~250 KiB on the wire) → 1009; the server closes with 1009 too', async (t) => {
    const bomb = await zeroBomb(256 * MiB);
    assert.ok(bomb.length < 300 * 1024, `bomb is ${bomb.length} bytes`);
    const peer = await open(t);
    const before = closes.length;
    await peer.sendPayload(bomb, { rsv1: true, fragment: 16 * 1024 });
    await peer.raw.expectClose(1009);
    await within(
      (async () => {
        while (closes.length === before) await new Promise((r) => setImmediate(r));
      })(),
      5000,
      'the server connection to close',
    );
    assert.equal(closes.at(-1)?.code, 1009);
  });

  test('the compressed size itself is bounded: a 2 MiB RSV1 frame is refused from its header → 1009', async (t) => {
    const peer = await open(t);
    await peer.sendPayload(randomBytes(2 * MiB), { rsv1: true });
    await peer.raw.expectClose(1009);
  });
});

// ---- The server in a child process: its memory is its own, and the CLI flag is the real one -------------------

const BIN = fileURLToPath(new URL('../../../bin/switchboard.js', import.meta.url));

interface Serve {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function serve(t: { after(fn: () => Promise<void>): void }, args: string[]): Promise<Serve> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--shutdown-timeout', '300', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await within(exited, 10_000, 'switchboard serve to exit').catch(() => child.kill('SIGKILL'));
  };
  t.after(stop);
  const port = await within(
    new Promise<number>((resolve, reject) => {
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    }),
    15_000,
    'switchboard serve to listen',
  );
  return { port, child, stop };
}

function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/status');
    return true;
  } catch {
    return false;
  }
})();

describe('switchboard serve in a child process', () => {
  test('bombs: four 256 MiB bombs at once → 1009 each, peak RSS grows < 64 MiB, next client served', {
    skip: !hasProc && 'needs /proc',
  }, async (t) => {
    const server = await serve(t, ['--max-message-size', String(MiB), '--compression', 'dedicated']);
    const pid = server.child.pid!;
    // Warm up: one ordinary compressed exchange, so zlib and the JIT are in the baseline.
    const warm = await DeflatePeer.open(server.port);
    t.after(() => warm.close());
    const data = Buffer.from(textOfSize(64 * 1024, prng(4)));
    await warm.send(data);
    await warm.expectEcho(data);
    const baseline = memory(pid);
    const bomb = await zeroBomb(256 * MiB);
    const peers = await Promise.all([0, 1, 2, 3].map(() => DeflatePeer.open(server.port)));
    t.after(() => {
      for (const p of peers) p.close();
    });
    const started = Date.now();
    await Promise.all(peers.map((p) => p.sendPayload(bomb, { rsv1: true })));
    await Promise.all(peers.map((p) => p.raw.expectClose(1009)));
    const elapsed = Date.now() - started;
    const peak = memory(pid);
    assert.ok(elapsed < 5000, `1009 took ${elapsed} ms`);
    const growth = peak.hwm - baseline.hwm;
    assert.ok(growth < 64 * MiB, `server peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    // Still serving: the warm connection and a new one.
    await warm.send(data);
    await warm.expectEcho(data);
    const next = await DeflatePeer.open(server.port);
    t.after(() => next.close());
    await next.send(data);
    await next.expectEcho(data);
  });

  test('--compression off declines every offer; RSV1 is then a protocol error', async (t) => {
    const server = await serve(t, ['--compression', 'off']);
    const peer = await DeflatePeer.open(server.port, {
      offers: [{ clientMaxWindowBits: true }, { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    });
    t.after(() => peer.close());
    assert.equal(peer.extensionHeader, undefined);
    assert.equal(peer.agreement, null);
    const data = 'x'.repeat(100);
    await peer.send(data, { compress: false });
    assert.equal((await peer.expectEcho(data)).compressed, false);
    await peer.sendPayload(rawDeflate(Buffer.from(data)), { type: 'text', rsv1: true });
    await peer.raw.expectClose(1002);
  });

  test('--compression shared answers with server_no_context_takeover; dedicated (the default) without', async (t) => {
    for (const [args, shared] of [
      [['--compression', 'shared'], true],
      [[], false],
    ] as const) {
      const server = await serve(t, [...args]);
      const peer = await DeflatePeer.open(server.port);
      t.after(() => peer.close());
      assert.equal(peer.agreement?.serverNoContextTakeover, shared, peer.extensionHeader);
      const data = Buffer.from(textOfSize(3000, prng(6)));
      for (let i = 0; i < 3; i++) {
        await peer.send(data);
        await peer.expectEcho(data);
      }
    }
  });
});

describe("context takeover and the slow-consumer policy 'drop'", () => {
  // Regression: queue() compressed (and so added to the context-takeover window) a message that #admit() then dropped;
  // the peer never saw it, so a later message referring back into it inflated to garbage or failed.
  test('a dropped compressed message does not enter the sliding window', async (t) => {
    const MAX = 1 * MiB;
    const tail = randomBytes(16 * 1024);
    const dropped = Buffer.concat([randomBytes(2 * MAX), tail]);
    let queued: boolean | null = null;
    const wss = new WebSocketServer({
      compression: 'dedicated',
      heartbeat: false,
      onSlowConsumer: 'drop',
      highWaterMark: 256 * 1024,
      maxBufferedBytes: MAX,
    });
    wss.on('connection', (conn: Connection) => {
      conn.on('message', (m) => {
        if (m.data === 'fill') {
          // 32 MiB uncompressed: more than loopback's kernel buffers take, so bytes stay queued in the socket.
          conn.send(Buffer.alloc(32 * MiB), { compress: false });
          const before = wss.stats.dropped;
          conn.send(dropped);
          queued = wss.stats.dropped === before;
        } else if (m.data === 'tail') {
          conn.send(tail);
        }
      });
    });
    const { port } = await wss.listen(0);
    const peer = await DeflatePeer.open(port, { path: '/' });
    t.after(async () => {
      peer.close();
      await wss.close();
    });
    await peer.send('fill', { compress: false });
    const filler = await peer.nextMessage(20_000);
    assert.equal(filler.data.length, 32 * MiB);
    assert.equal(queued, false, 'the 2 MiB message is dropped: over maxBufferedBytes while bytes are queued');
    await peer.send('tail', { compress: false });
    const echo = await peer.nextMessage();
    assert.equal(echo.compressed, true);
    assert.ok(echo.data.equals(tail), 'the message after a dropped one inflates to what was sent');
  });

  // The same for a small message, which a live compressor takes synchronously: it saw the dropped message, so it must
  // be replaced, or the resend below would be a back-reference to bytes the peer never received.
  test("a dropped small message is not in a live compressor's window either", async (t) => {
    const line = Buffer.from(textOfSize(4096, prng(12)));
    let queued: boolean | null = null;
    const wss = new WebSocketServer({
      compression: 'dedicated',
      heartbeat: false,
      onSlowConsumer: 'drop',
      maxBufferedBytes: MiB,
    });
    wss.on('connection', (conn: Connection) => {
      conn.on('message', (m) => {
        // Two: a connection's first message goes one-shot, its second takes a live compressor.
        if (m.data === 'warm') for (const at of [0, 100]) conn.send(line.subarray(at, at + 2000));
        else if (m.data === 'fill') {
          conn.send(Buffer.alloc(32 * MiB), { compress: false });
          const before = wss.stats.dropped;
          conn.send(line);
          queued = wss.stats.dropped === before;
        } else if (m.data === 'again') conn.send(line);
      });
    });
    const { port } = await wss.listen(0);
    const peer = await DeflatePeer.open(port, { path: '/' });
    t.after(async () => {
      peer.close();
      await wss.close();
    });
    await peer.send('warm', { compress: false });
    for (let i = 0; i < 2; i++) assert.equal((await peer.nextMessage()).compressed, true);
    assert.ok(livePool.size > 0, 'the server compresses with a live compressor');
    await peer.send('fill', { compress: false });
    assert.equal((await peer.nextMessage(20_000)).data.length, 32 * MiB);
    assert.equal(queued, false, 'the 4 KiB message is dropped');
    await peer.send('again', { compress: false });
    const resent = await peer.nextMessage();
    assert.equal(resent.compressed, true);
    assert.ok(resent.data.equals(line), 'the resend inflates to what was sent');
  });
});

describe("live compressors and the connection's end", () => {
  for (const how of ['a clean close', 'a reset by the peer'] as const) {
    test(`the connection's live compressor goes back to the pool at ${how}`, async (t) => {
      const wss = new WebSocketServer({ compression: 'dedicated', heartbeat: false });
      wss.on('connection', (conn: Connection) => conn.on('message', (m) => conn.send(m.data)));
      const { port } = await wss.listen(0);
      t.after(() => wss.close());
      const before = livePool.size;
      const peer = await DeflatePeer.open(port, { path: '/' });
      const msg = textOfSize(2000, prng(13));
      for (let i = 0; i < 2; i++) {
        await peer.send(msg);
        await peer.expectEcho(msg);
      }
      assert.equal(livePool.size, before + 1, 'the second message took a live compressor');
      const [conn] = [...wss.clients];
      if (how === 'a clean close') await peer.raw.sendClose(1000);
      else peer.close();
      await within(conn!.closed, 10_000, 'the close');
      assert.equal(livePool.size, before);
      peer.close();
    });
  }
});
