// Regressions from an attacker's pass over main (issue "hostile peers"): each test reproduces, over real sockets, a
// way one unauthenticated peer — or a careless listener — could crash, hang, stall or leak a server, and checks that it
// no longer does.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect as netConnect } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { type Connection, connect, type ServerOptions, WebSocketServer } from '../../src/index.js';
import { FRAMES_PER_TURN } from '../../src/connection/limits.js';
import { nextConnection, startClockedServer } from '../helpers/clocked-server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { encodeFrame, Op, openPeer, RawPeer, within } from '../helpers/raw-peer.js';
import { acceptFor, RawServer } from '../helpers/raw-server.js';
import { StalledPeer } from '../helpers/stalled-peer.js';

const WAIT = 5_000;

/** Collects what would crash the process (or warn about a bug) while `run` goes on. */
async function watchProcess(run: () => Promise<void>): Promise<{ crashes: unknown[]; warnings: Error[] }> {
  const crashes: unknown[] = [];
  const warnings: Error[] = [];
  const onCrash = (err: unknown): void => {
    crashes.push(err);
  };
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    process.off('warning', onWarning);
  }
  return { crashes, warnings };
}

async function serve(t: TestContext, options: ServerOptions = {}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ heartbeat: false, ...options });
  const { port } = await wss.listen(0);
  t.after(() => wss.close());
  return { wss, port };
}

function request(path: string, headers: Record<string, string | undefined> = {}, method = 'GET'): string {
  const all: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== undefined) text += `${k}: ${v}\r\n`;
  return `${text}\r\n`;
}

/** Sends a raw request, waits for the first bytes of the answer, then resets the connection (RST, not FIN). */
async function requestThenReset(port: number, raw: string): Promise<string> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(raw);
  const [chunk] = (await within(once(socket, 'data'), WAIT, 'an answer')) as [Buffer];
  socket.resetAndDestroy();
  return chunk.toString('latin1').split('\r\n')[0] ?? '';
}

async function echoWorks(port: number, path = '/'): Promise<void> {
  const client = await connect(`ws://127.0.0.1:${port}${path}`);
  const reply = once(client, 'message');
  client.send('still here');
  const [msg] = await within(reply, WAIT, 'an echo');
  assert.deepEqual(msg, { type: 'text', data: 'still here' });
  await client.close();
}

describe('a refused handshake followed by a TCP reset never crashes the process', () => {
  it('every refusal status (400, 403, 404, 405, 426, 503, an authorize status) survives an RST after the answer', async (t) => {
    const http = createServer();
    const wss = new WebSocketServer({
      heartbeat: false,
      origins: ['https://app.example'],
      authorize: (req) => (req.headers.authorization === 'no' ? 401 : true),
    });
    wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
    wss.attach(http, { path: '/echo' });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as { port: number }).port;
    t.after(async () => {
      await wss.close();
      http.closeAllConnections();
      http.close();
    });
    const cases: Array<[number, string]> = [
      [404, request('/nope')],
      [400, request('/echo', { 'Sec-WebSocket-Key': 'short' })],
      [400, request('/echo', { Host: undefined })],
      [403, request('/echo', { Origin: 'https://evil.example' })],
      [405, request('/echo', {}, 'POST')],
      [426, request('/echo', { 'Sec-WebSocket-Version': '8' })],
      [401, request('/echo', { Authorization: 'no' })],
    ];
    const { crashes } = await watchProcess(async () => {
      for (const [status, raw] of cases) {
        const line = await requestThenReset(port, raw);
        assert.match(line, new RegExp(`^HTTP/1.1 ${status} `), `expected ${status} for ${raw.split('\r\n')[0]}`);
      }
      // The resets arrive while the refused sockets linger; give them a few turns to be read.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await echoWorks(port, '/echo');
    });
    assert.deepEqual(crashes, []);
  });

  it('a 503 during shutdown followed by an RST does not crash either', async (t) => {
    const http = createServer();
    const wss = new WebSocketServer({ heartbeat: false });
    wss.attach(http);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as { port: number }).port;
    t.after(() => {
      http.closeAllConnections();
      http.close();
    });
    const stay = await RawPeer.open(port, { path: '/' }); // keeps close() waiting, so the server goes on refusing
    t.after(() => stay.destroy());
    const closing = wss.close();
    const { crashes } = await watchProcess(async () => {
      const line = await requestThenReset(port, request('/'));
      assert.match(line, /^HTTP\/1.1 503 /);
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    stay.destroy();
    await closing;
    assert.deepEqual(crashes, []);
  });
});

describe('RFC 6455 §4.1/§4.2.1: an upgrade without Host is refused', () => {
  it('answers 400 and names the missing header', async (t) => {
    const { port } = await serve(t);
    const peer = await RawPeer.dial(port);
    t.after(() => peer.destroy());
    const res = await peer.request(request('/', { Host: undefined }));
    assert.equal(res.status, 400);
    assert.match(res.body.toString(), /Host/);
  });
});

describe('authorize answers true, false or an HTTP error status', () => {
  it('a 200 (a bug in the app) does not "refuse with success": 500, and a TypeError as a warning', async (t) => {
    const { port } = await serve(t, { authorize: () => 200 });
    const { warnings } = await watchProcess(async () => {
      const peer = await RawPeer.dial(port);
      t.after(() => peer.destroy());
      const res = await peer.request(request('/'));
      assert.equal(res.status, 500);
    });
    assert.ok(warnings.some((w) => w.name === 'TypeError' && /authorize must return/.test(w.message)));
  });
});

describe("a 'rejected' listener that throws is a bug in the app, not a way to crash the server", () => {
  it('the refusal is still answered, the error becomes a warning, and the server goes on', async (t) => {
    // Any peer can make the server refuse it: a logging listener that throws used to take the process down from the
    // 'upgrade' event (and as an unhandled rejection when authorize() had refused).
    const { wss, port } = await serve(t, { authorize: (req) => req.url !== '/private' });
    wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
    wss.on('rejected', ({ status }) => {
      throw new Error(`rejected listener bug ${status}`);
    });
    const { crashes, warnings } = await watchProcess(async () => {
      for (const [raw, status] of [
        [request('/', { 'Sec-WebSocket-Version': '8' }), 426],
        [request('/private'), 403],
      ] as const) {
        const peer = await RawPeer.dial(port);
        t.after(() => peer.destroy());
        assert.equal((await peer.request(raw)).status, status);
      }
      await echoWorks(port);
    });
    assert.deepEqual(crashes, []);
    assert.deepEqual(
      warnings.map((w) => w.message).filter((m) => m.startsWith('rejected listener bug')),
      ['rejected listener bug 426', 'rejected listener bug 403'],
    );
  });
});

describe("'error' fires at most once, and a listener's own failure never re-enters the failure path", () => {
  it('an async error listener that rejects: one error, the violation closes with 1002, the loop keeps running', async (t) => {
    const { wss, port } = await serve(t);
    let errors = 0;
    wss.on('connection', (conn) => {
      conn.on('error', async () => {
        errors++;
        throw new Error('listener bug');
      });
    });
    const { crashes, warnings } = await watchProcess(async () => {
      const peer = await openPeer(t, port, { path: '/' });
      await peer.send({ opcode: 0x3 }); // a reserved data opcode
      const close = await peer.expectClose(1002);
      assert.ok(close);
      // A timer still runs: the event loop was not starved by a rejection loop.
      await within(new Promise((resolve) => setTimeout(resolve, 20)), WAIT, 'a timer');
    });
    assert.equal(errors, 1);
    assert.deepEqual(crashes, []);
    assert.ok(warnings.some((w) => w.message === 'listener bug'));
  });

  it('a synchronous error listener that throws does not crash the process', async (t) => {
    const { wss, port } = await serve(t);
    let errors = 0;
    wss.on('connection', (conn) => {
      conn.on('error', () => {
        errors++;
        throw new Error('sync listener bug');
      });
      conn.on('message', (m) => conn.send(m.data));
    });
    const { crashes, warnings } = await watchProcess(async () => {
      const peer = await openPeer(t, port, { path: '/' });
      await peer.send({ opcode: Op.Ping, fin: false }); // a fragmented control frame
      await peer.expectClose(1002);
      await echoWorks(port);
    });
    assert.equal(errors, 1);
    assert.deepEqual(crashes, []);
    assert.ok(warnings.some((w) => w.message === 'sync listener bug'));
  });

  it('a connection listener that throws, or rejects, closes that connection with 1011 and the server goes on', async (t) => {
    const { wss, port } = await serve(t);
    let n = 0;
    wss.on('connection', async (conn) => {
      n++;
      if (n === 1) throw new Error('sync connection bug');
      if (n === 2) {
        await Promise.resolve();
        throw new Error('async connection bug');
      }
      conn.on('message', (m) => conn.send(m.data));
    });
    const { crashes, warnings } = await watchProcess(async () => {
      for (let i = 0; i < 2; i++) {
        const client = await connect(`ws://127.0.0.1:${port}/`);
        const info = await within(client.closed, WAIT, 'the close');
        assert.equal(info.code, 1011);
      }
      await echoWorks(port);
    });
    assert.deepEqual(crashes, []);
    assert.equal(warnings.filter((w) => /connection bug/.test(w.message)).length, 2);
  });
});

describe('resume() before reading has started, and messages in the handshake head, never leave a socket paused', () => {
  it('pause(); resume() inside the connection handler: the connection still reads, and answers a close', async (t) => {
    const { wss, port } = await serve(t);
    wss.on('connection', (conn) => {
      conn.pause();
      conn.resume();
      assert.equal(conn.isPaused, false);
      conn.on('message', (m) => conn.send(m.data));
    });
    const peer = await openPeer(t, port, { path: '/' });
    await peer.sendText('hello');
    await peer.expectEcho('hello', 'text');
    await peer.sendClose(1000);
    await peer.expectClose(1000);
  });

  it('server side: a 32 KiB message in the same write as the handshake, read with nextReader(), then more', async (t) => {
    const { wss, port } = await serve(t);
    const big = Buffer.alloc(32 * 1024, 7);
    const got: number[] = [];
    wss.on('connection', async (conn) => {
      const reader = await conn.nextReader();
      let n = 0;
      for await (const chunk of reader) n += (chunk as Buffer).length;
      got.push(n);
      conn.on('message', (m) => conn.send(m.data));
    });
    const peer = await RawPeer.dial(port);
    t.after(() => peer.destroy());
    const hs = request('/');
    const res = await peer.request(Buffer.concat([Buffer.from(hs), encodeFrame({ opcode: Op.Binary, payload: big })]));
    assert.equal(res.status, 101);
    await peer.sendText('after');
    await peer.expectEcho('after', 'text');
    assert.deepEqual(got, [big.length]);
    await peer.sendClose(1000);
    await peer.expectClose(1000);
  });

  it('client side: a 32 KiB message sent with the 101 in one write, read with nextReader(), then more', async (t) => {
    const big = Buffer.alloc(32 * 1024, 9);
    const server = await RawServer.start({
      handshake: (req) => {
        const frame = Buffer.concat([Buffer.from([0x82, 127]), Buffer.alloc(8), big]);
        frame.writeUInt32BE(big.length, 6);
        return Buffer.concat([
          Buffer.from(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'] ?? '')}\r\n\r\n`,
          ),
          frame,
        ]);
      },
    });
    t.after(() => server.close());
    const client = await connect(server.url('/'));
    t.after(() => client.terminate());
    const reader = await client.nextReader();
    let n = 0;
    for await (const chunk of reader) n += (chunk as Buffer).length;
    assert.equal(n, big.length);
    const peer = await server.nextPeer();
    const next = once(client, 'message');
    await peer.write(Buffer.from([0x81, 2, 0x6f, 0x6b])); // "ok"
    const [msg] = await within(next, WAIT, 'the next message');
    assert.deepEqual(msg, { type: 'text', data: 'ok' });
  });
});

describe('a peer that half-closes while we still hold unsent bytes never leaves a connection stuck in CLOSING', () => {
  it('server: closed settles within closeTimeout and drained() rejects', async (t) => {
    const { clock, wss, port } = await startClockedServer(t, { heartbeat: false, closeTimeout: 1_000 });
    const accepted = nextConnection(wss);
    const peer = await StalledPeer.open(port);
    t.after(() => peer.socket.destroy());
    const conn = await accepted;
    // Fill the kernel's buffers and then ours: the peer reads nothing.
    while (conn.bufferedAmount === 0) {
      conn.send(Buffer.alloc(256 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const drained = conn.drained();
    peer.socket.end(); // FIN, still not reading
    await waitForState(conn, 2);
    clock.advance(1_000);
    const info = await within(conn.closed, WAIT, 'closed to settle');
    assert.equal(info.code, 1006);
    await assert.rejects(drained, { code: 'ERR_CLOSED' });
  });

  it('client: the same, with the client clock', async (t) => {
    const server = await RawServer.start();
    t.after(() => server.close());
    const clock = new ManualClock();
    const client = await connect(server.url('/'), { clock, closeTimeout: 1_000 });
    t.after(() => client.terminate());
    const peer = await server.nextPeer();
    peer.socket.pause(); // reads nothing more
    while (client.bufferedAmount === 0) {
      client.send(Buffer.alloc(256 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    peer.socket.end();
    await waitForState(client, 2);
    clock.advance(1_000);
    const info = await within(client.closed, WAIT, 'closed to settle');
    assert.equal(info.code, 1006);
  });
});

describe('one read burst of tiny frames does not monopolise the event loop', () => {
  it(`at most ${FRAMES_PER_TURN} frames are parsed per turn, and every message still arrives in order`, async (t) => {
    const { wss, port } = await serve(t);
    const total = 20_000;
    let seen = 0;
    let atFirstTurn = -1;
    let inOrder = true;
    const done = new Promise<void>((resolve) => {
      wss.on('connection', (conn) => {
        conn.on('message', (m) => {
          if (seen === 0) setImmediate(() => (atFirstTurn = seen));
          if (m.type !== 'text' || m.data !== String(seen % 10)) inOrder = false;
          if (++seen === total) resolve();
        });
      });
    });
    const peer = await openPeer(t, port, { path: '/' });
    const frames = [];
    for (let i = 0; i < total; i++) frames.push(encodeFrame({ opcode: Op.Text, payload: String(i % 10) }));
    await peer.sendRaw(Buffer.concat(frames));
    await within(done, WAIT * 2, 'every message');
    assert.ok(inOrder, 'messages out of order');
    assert.ok(atFirstTurn > 0 && atFirstTurn <= FRAMES_PER_TURN, `parsed ${atFirstTurn} frames in the first turn`);
  });

  it('an unfinished message of 60,000 one-byte fragments is held in about its payload size', async (t) => {
    const { wss, port } = await serve(t);
    const accepted = nextConnection(wss);
    const peer = await openPeer(t, port, { path: '/' });
    const conn = await accepted;
    const n = 60_000;
    const frames = [encodeFrame({ opcode: Op.Binary, payload: 'x', fin: false })];
    for (let i = 1; i < n; i++) frames.push(encodeFrame({ opcode: Op.Continuation, payload: 'x', fin: false }));
    const heapBefore = process.memoryUsage();
    await peer.sendRaw(Buffer.concat(frames));
    await waitForRead(
      conn,
      frames.reduce((s, f) => s + f.length, 0),
    );
    const after = process.memoryUsage();
    // 60,000 Buffer objects and the chunks under them were ~9 MiB; the payload is 60 KB.
    const grown = after.heapUsed + after.arrayBuffers - (heapBefore.heapUsed + heapBefore.arrayBuffers);
    assert.ok(grown < 4 * 1024 * 1024, `grew by ${grown} bytes`);
    await peer.send({ opcode: Op.Continuation, payload: 'y', fin: true });
    await peer.sendClose(1000);
    await peer.expectClose(1000);
  });

  it('an 8 MiB message of 4 KiB fragments, a small one and a close in one write: joined in slices, all in order', async (t) => {
    const { wss, port } = await serve(t);
    const accepted = nextConnection(wss);
    const peer = await openPeer(t, port, { path: '/' });
    const conn = await accepted;
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const frames: Buffer[] = [];
    for (let i = 0; i < big.length; i += 4096) {
      frames.push(
        encodeFrame({
          opcode: i === 0 ? Op.Binary : Op.Continuation,
          payload: big.subarray(i, i + 4096),
          fin: i + 4096 >= big.length,
        }),
      );
    }
    frames.push(encodeFrame({ opcode: Op.Text, payload: 'after' }));
    frames.push(encodeFrame({ opcode: Op.Close, payload: Buffer.from([0x03, 0xe8]) }));
    const got: string[] = [];
    conn.on('message', (msg) => {
      got.push(
        msg.type === 'text' ? msg.data : msg.data.equals(big) ? 'the 8 MiB message, whole' : 'a damaged message',
      );
    });
    await peer.sendRaw(Buffer.concat(frames));
    await peer.expectClose(1000);
    assert.deepEqual(got, ['the 8 MiB message, whole', 'after']);
  });

  it('a reset right after an 8 MiB fragmented message: no message after the close, the connection ends 1006', async (t) => {
    const { wss, port } = await serve(t);
    const accepted = nextConnection(wss);
    const peer = await openPeer(t, port, { path: '/' });
    const conn = await accepted;
    const frames: Buffer[] = [];
    for (let i = 0; i < 2048; i++) {
      frames.push(
        encodeFrame({ opcode: i === 0 ? Op.Binary : Op.Continuation, payload: Buffer.alloc(4096, i), fin: i === 2047 }),
      );
    }
    let closedFirst = false;
    const late: string[] = [];
    conn.on('close', () => {
      closedFirst = true;
    });
    conn.on('message', () => {
      if (closedFirst) late.push('a message after close');
    });
    await peer.sendRaw(Buffer.concat(frames));
    peer.socket.resetAndDestroy();
    assert.equal((await within(conn.closed, WAIT, 'closed')).code, 1006);
    // Any join still scheduled runs out within a few turns: it must see the connection gone and drop its copy.
    for (let i = 0; i < 64; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(late, []);
  });
});

function waitForState(conn: Connection, state: number): Promise<void> {
  return within(
    (async () => {
      while (conn.readyState < state) await new Promise((resolve) => setImmediate(resolve));
    })(),
    WAIT,
    `readyState ${state}`,
  );
}

function waitForRead(conn: Connection, bytes: number): Promise<void> {
  return within(
    (async () => {
      while (conn.readCount < bytes) await new Promise((resolve) => setTimeout(resolve, 1));
      // The last read may still be parked for a few turns.
      for (let i = 0; i < 100; i++) await new Promise((resolve) => setImmediate(resolve));
    })(),
    WAIT,
    `${bytes} bytes read`,
  );
}
