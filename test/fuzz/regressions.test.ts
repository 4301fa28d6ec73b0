// Deterministic regressions for what the fuzzers found, each named after what it reproduces (the seed and path that
// found it are in the test's comment); real sockets on 127.0.0.1, no fuzzing here.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { type Connection, connect, Hub, WebSocketServer } from '../../src/index.js';
import { deadline } from './watch.js';

async function pair(t: TestContext): Promise<{ wss: WebSocketServer; server: Connection; client: Connection }> {
  const wss = new WebSocketServer({ heartbeat: false, closeTimeout: 300, shutdownTimeout: 300 });
  const { port } = await wss.listen(0);
  t.after(() => wss.close());
  const accepted = once(wss, 'connection');
  const client = await connect(`ws://127.0.0.1:${port}/`);
  const [server] = (await accepted) as [Connection];
  return { wss, server, client };
}

/** Collects process warnings while `run` goes on. */
async function warningsOf(run: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe("a 'close' listener that throws or rejects does not keep the listeners after it from running", () => {
  // api fuzzer, seed 1, path 5:0:0:0:0:0:0:0:0:1:0:2:2:2: a hostile 'close' listener, then hub.subscribe, then a close.
  it('the hub forgets a subscriber whose earlier close listener threw', async (t) => {
    const { server, client } = await pair(t);
    const hub = new Hub();
    server.on('close', () => {
      throw new Error('close listener bug');
    });
    hub.subscribe(server, 'room');
    const warnings = await warningsOf(async () => {
      await client.close();
      await deadline(server.closed, 2_000, 'the server side to close');
    });
    assert.equal(hub.subscribers('room'), 0, 'the closed connection is still subscribed');
    assert.ok(
      warnings.some((w) => w.message === 'close listener bug'),
      'the listener bug stays visible as a warning',
    );
    await hub.close();
  });

  it('a for-await over the connection ends although close listeners before it threw and rejected', async (t) => {
    const { server, client } = await pair(t);
    server.on('close', async () => {
      throw new Error('async close listener bug');
    });
    server.on('close', () => {
      throw new Error('sync close listener bug');
    });
    const iterating = (async () => {
      for await (const _ of server) {
        // nothing is sent
      }
    })();
    const warnings = await warningsOf(async () => {
      await client.close();
      await deadline(iterating, 2_000, 'the iterator to end');
    });
    assert.ok(
      warnings.some((w) => w.message === 'async close listener bug'),
      'a rejection becomes a warning',
    );
    assert.ok(
      warnings.some((w) => w.message === 'sync close listener bug'),
      'a throw becomes a warning',
    );
  });
});

describe('a close from the peer while our close waits behind a message being compressed', () => {
  // api fuzzer, seed 1621854316, path 274:1:1:1:1:1:2:1:5:2:6:2:4:2:2:2:3:3 ('shared', a 64 KiB text, then both sides
  // close): the server ended TCP on the client's close frame before its own message and close frame were written.
  for (const first of ['server', 'client'] as const) {
    it(`the message and our close frame still go out before TCP closes (${first} closes first)`, async (t) => {
      const { wss, port } = await (async () => {
        const s = new WebSocketServer({ heartbeat: false, compression: 'shared', closeTimeout: 300 });
        const a = await s.listen(0);
        t.after(() => s.close());
        return { wss: s, port: a.port };
      })();
      const accepted = once(wss, 'connection');
      const client = await connect(`ws://127.0.0.1:${port}/`, { compression: 'shared', closeTimeout: 300 });
      const [server] = (await accepted) as [Connection];
      const got: number[] = [];
      client.on('message', (m) => got.push(m.data.length));
      // Large enough to be compressed off the main thread, so the close frame waits for it.
      server.send('x'.repeat(65_537));
      if (first === 'server') {
        void server.close(1000);
        void client.close(1000);
      } else {
        void client.close(1000);
        void server.close(1000);
      }
      const [s, c] = await deadline(Promise.all([server.closed, client.closed]), 2_000, 'both sides to close');
      assert.deepEqual(got, [65_537], 'the message sent before close() was delivered');
      assert.deepEqual(c, { code: 1000, reason: '', wasClean: true }, "the client received the server's close frame");
      assert.equal(s.wasClean, true);
    });
  }
});
