// Regressions from a maintainer's review: each test reproduces a way a peer or an app could crash the process, hang
// a promise, break §5.4, or grow memory past the cap, and checks that it no longer does.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it, type TestContext } from 'node:test';
import { type Connection, connect, type ServerOptions, WebSocketServer } from '../../src/index.js';
import { encodeFrame, Op, openPeer, within } from '../helpers/raw-peer.js';
import { StalledPeer } from '../helpers/stalled-peer.js';

const WAIT = 5_000;
const MiB = 1024 * 1024;

async function serve(t: TestContext, options: ServerOptions = {}): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer({ heartbeat: false, ...options });
  const { port } = await wss.listen(0);
  t.after(() => wss.close());
  return { wss, port };
}

async function pair(t: TestContext, options: ServerOptions = {}) {
  const { wss, port } = await serve(t, options);
  const accepted = once(wss, 'connection') as Promise<[Connection]>;
  const client = await connect(`ws://127.0.0.1:${port}/`);
  t.after(() => client.terminate());
  const [server] = await within(accepted, WAIT, 'the server connection');
  return { wss, port, client, server };
}

/** Fails the test if the process sees an uncaught exception or unhandled rejection while `run` goes on. */
async function noCrash(run: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onError = (err: unknown): void => {
    seen.push(err);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  }
  assert.deepEqual(seen, []);
}

function endless(): Readable {
  return new Readable({
    read() {
      this.push(Buffer.alloc(64 * 1024, 1));
    },
  });
}

describe('streams never crash the process when the connection goes away', () => {
  it('a writer fed by .pipe() whose peer vanishes ends quietly', async (t) => {
    const { client, server } = await pair(t);
    await noCrash(async () => {
      const writer = server.writer('binary');
      endless().pipe(writer);
      client.terminate();
      await within(once(writer, 'close'), WAIT, 'the writer to close');
    });
  });

  it('a reader piped to a sink whose peer vanishes mid-message ends quietly', async (t) => {
    const { client, server } = await pair(t);
    await noCrash(async () => {
      const readerP = server.nextReader();
      const w = client.writer('binary');
      w.write(Buffer.alloc(1024));
      const reader = await within(readerP, WAIT, 'the reader');
      reader.pipe(new Writable({ write: (_c, _e, cb) => cb() }));
      client.terminate();
      // Not events.once: its own 'error' listener would ask for the error, which then rejects it.
      await within(new Promise((resolve) => reader.on('close', resolve)), WAIT, 'the reader to close');
      assert.equal(reader.readableAborted, true);
    });
  });

  it('nextReader() claims still waiting are rejected when the connection closes', async (t) => {
    const { client, server } = await pair(t);
    const pending = server.nextReader();
    await client.close(1000, 'bye');
    await assert.rejects(within(pending, WAIT, 'the claim'), { code: 'ERR_CLOSED' });
    await assert.rejects(server.nextReader(), { code: 'ERR_CLOSED' });
  });

  it('a reader its consumer destroyed does not stall the connection', async (t) => {
    const { client, server } = await pair(t);
    const readerP = server.nextReader();
    const later: string[] = [];
    server.on('message', (m) => later.push(String(m.data)));
    client.send(Buffer.alloc(4 * MiB));
    client.send('after');
    const reader = await within(readerP, WAIT, 'the reader');
    reader.once('data', () => reader.destroy());
    const deadline = Date.now() + WAIT;
    while (later.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(later, ['after']);
  });
});

describe('the writer lock', () => {
  it('a writer destroyed mid-message fails the connection (1011) instead of letting other sends into it', async (t) => {
    const { client, server } = await pair(t);
    await assert.rejects(
      pipeline(
        new Readable({
          read() {
            this.push(Buffer.from('part'));
            this.destroy(new Error('source failed'));
          },
        }),
        server.writer('binary'),
      ),
      /source failed/,
    );
    server.send('must not land inside the unfinished message');
    const info = await within(client.closed, WAIT, 'the client to close');
    assert.equal(info.code, 1011);
  });

  it('a second writer opened on the first one’s finish keeps the lock until it ends', async (t) => {
    const { client, server } = await pair(t);
    const got: string[] = [];
    client.on('message', (m) => got.push(m.type === 'binary' ? m.data.toString() : `text:${m.data}`));
    const first = server.writer('binary');
    first.on('finish', () => {
      const second = server.writer('binary');
      second.write('a');
      server.send('x'); // held back until the second writer ends
      setImmediate(() => second.end('b'));
    });
    first.end('z');
    const deadline = Date.now() + WAIT;
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, ['z', 'ab', 'text:x']);
  });
});

describe('handlers and policies', () => {
  it('an async message handler that rejects closes that connection with 1011; the process lives', async (t) => {
    const { client, server } = await pair(t);
    server.on('message', async () => {
      throw new Error('async handler bug');
    });
    await noCrash(async () => {
      client.send('boom');
      const info = await within(client.closed, WAIT, 'the client to close');
      assert.equal(info.code, 1011);
    });
  });

  it('an origin policy function that throws refuses with 403', async (t) => {
    const { port } = await serve(t, {
      origins: (origin) => new URL(origin).hostname === 'app.example',
    });
    await noCrash(async () => {
      await assert.rejects(connect(`ws://127.0.0.1:${port}/`, { origin: 'null' }), { status: 403 });
    });
    const ok = await connect(`ws://127.0.0.1:${port}/`, { origin: 'http://app.example' });
    await ok.close();
  });

  it('close() refuses a handshake whose authorization ends after shutdown began', async () => {
    let release!: () => void;
    let arrived!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const asked = new Promise<void>((r) => {
      arrived = r;
    });
    const wss = new WebSocketServer({
      heartbeat: false,
      authorize: () => {
        arrived();
        return gate.then(() => true);
      },
    });
    const { port } = await wss.listen(0);
    const attempt = connect(`ws://127.0.0.1:${port}/`);
    await within(asked, WAIT, 'the handshake to reach authorize');
    const closing = wss.close();
    release();
    await assert.rejects(attempt, { status: 503 });
    await within(closing, WAIT, 'close() to resolve');
    assert.equal(wss.clients.size, 0);
  });
});

describe('memory stays under the cap', () => {
  it('a peer that pings without reading cannot grow the server’s buffer (pongs are bounded)', async (t) => {
    const { wss, port } = await serve(t, { maxBufferedBytes: 1 * MiB, highWaterMark: 256 * 1024 });
    const accepted = once(wss, 'connection') as Promise<[Connection]>;
    const peer = await StalledPeer.open(port);
    t.after(() => peer.destroy());
    const [conn] = await within(accepted, WAIT, 'the server connection');
    // 500 pings a write, 75 MiB of pongs owed in all: far more than the kernel's buffers and the cap together.
    const burst = Buffer.concat(
      Array.from({ length: 500 }, () => encodeFrame({ opcode: Op.Ping, payload: Buffer.alloc(125, 7) })),
    );
    let maxBuffered = 0;
    for (let i = 0; i < 1_200 && conn.readyState === 1; i++) {
      if (!peer.socket.write(burst)) await once(peer.socket, 'drain');
      maxBuffered = Math.max(maxBuffered, conn.bufferedAmount);
    }
    assert.ok(maxBuffered <= 1 * MiB + 256, `server buffered ${maxBuffered} bytes`);
  });

  it('sends held back behind an open writer count toward maxBufferedBytes', async (t) => {
    const { server } = await pair(t, { maxBufferedBytes: 1 * MiB, onSlowConsumer: 'drop' });
    const writer = server.writer('binary');
    writer.write('start');
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      const before = server.bufferedAmount;
      server.send(Buffer.alloc(16 * 1024));
      if (server.bufferedAmount > before) accepted++;
    }
    assert.ok(accepted <= 64, `${accepted} held-back sends of 16 KiB accepted under a 1 MiB cap`);
    writer.end();
  });
});

describe('control frames during the close handshake', () => {
  it('a ping that arrives after our close frame, before the peer’s, is still answered (§5.5.2)', async (t) => {
    const { wss, port } = await serve(t);
    const accepted = once(wss, 'connection') as Promise<[Connection]>;
    const peer = await openPeer(t, port);
    const [conn] = await within(accepted, WAIT, 'the server connection');
    const closing = conn.close(1000, 'done');
    const close = await peer.nextFrame();
    assert.equal(close.opcode, Op.Close);
    await peer.send({ opcode: Op.Ping, payload: Buffer.from('still there?') });
    await peer.expectPong('still there?');
    await peer.sendClose(1000);
    const info = await within(closing, WAIT, 'the close handshake');
    assert.equal(info.wasClean, true);
  });
});
