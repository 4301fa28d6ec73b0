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
