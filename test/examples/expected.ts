// What each file in examples/ must print, shared by the run in this repository (examples.test.ts) and the run
// against the installed tarball (test/package/pack.test.ts): a new example is unknown to both until it is listed here.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Run } from '../cli/cli-process.js';

export interface Expected {
  /** Every line of stdout, in order. */
  lines: readonly string[];
  /** The lines may come in any order but the last (independent connections whose closes race each other). */
  anyOrder?: boolean;
  /** Needs a redis-server, whose URL it reads from REDIS_URL. */
  redis?: boolean;
}

export const EXPECTED: Readonly<Record<string, Expected>> = {
  'auth.mjs': {
    lines: [
      'no token: refused with 401 (not authorized)',
      'wrong token: refused with 403 (not authorized)',
      'token in a header: accepted, server says "welcome, alice"',
      'token in the query: accepted, server says "welcome, alice"',
    ],
  },
  'chat-rooms.mjs': {
    lines: [
      'alice joined lobby (1 there)',
      'bob joined lobby (2 there)',
      'carol joined games (1 there)',
      'bob got "hi bob" from alice',
      'hub: 1 published, 1 delivered',
    ],
  },
  'echo.mjs': {
    lines: [
      'server: 127.0.0.1 connected to /echo, extensions: permessage-deflate; server_no_context_takeover',
      'client: echoed text hello',
      'client: echoed binary [ 1, 2, 3 ]',
      'client: closed with 1000, clean: true',
    ],
  },
  'express.mjs': {
    lines: ['GET /health → 200 { ok: true, websockets: 1 }', 'ws /ws → express echo: hello'],
  },
  'fastify.mjs': {
    lines: [
      'GET /health → 200 { ok: true, websockets: 1 }',
      'ws /ws → fastify echo: hello',
      'after app.close(): the client saw 1001',
    ],
  },
  'http2.mjs': {
    lines: [
      'client: first WebSocket got "hello over HTTP/2"',
      'client: second WebSocket got "hello over HTTP/2"',
      'client: closed with 1000 and 1000; the server saw 1 session',
    ],
  },
  'redis.mjs': {
    redis: true,
    lines: [
      'bob (node 2) got: (history) alice: hello from node 1',
      'bob (node 2) got: (joined)',
      'bob (node 2) got: alice: still there?',
    ],
  },
  'shutdown.mjs': {
    anyOrder: true,
    lines: [
      'client 1 got: welcome',
      'client 2 got: welcome',
      'server: SIGTERM, closing 2 connections',
      'client 1 got: server restarting, reconnect in a few seconds',
      'client 2 got: server restarting, reconnect in a few seconds',
      'server: a client arriving now is refused with 503',
      'client 1 closed: 1001 server shutting down',
      'client 2 closed: 1001 server shutting down',
      'server: every connection closed; nothing is left to run, so node exits with 0',
    ],
  },
  'stream-file.mjs': {
    lines: [
      '3145728 bytes: uploaded, 3145728 came back, same sha256: true',
      '5242880 bytes: refused, closed with 1009',
    ],
  },
};

/** An example must finish within this, whatever machine runs it (each takes well under a second alone). */
export const EXAMPLE_TIMEOUT = 30_000;

/** The runnable files of an examples/ folder. */
export function exampleFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.m?js$/.test(f))
    .sort();
}

/** Fails unless every file in `dir` is listed above, and every listed one is there. */
export function assertAllKnown(dir: string): void {
  assert.deepEqual(exampleFiles(dir), Object.keys(EXPECTED).sort(), `the examples in ${join(dir)} and EXPECTED`);
}

/** An example's run: exit 0, nothing on stderr (no warning either), and exactly the expected lines. */
export function assertRan(file: string, run: Run): void {
  const expected = EXPECTED[file];
  assert.ok(expected, `${file} is listed in test/examples/expected.ts`);
  const context = `examples/${file}:\n${run.stdout}${run.stderr}`;
  assert.equal(run.code, 0, context);
  assert.equal(run.stderr, '', context);
  const lines = run.stdout.split('\n');
  assert.equal(lines.pop(), '', `${file}: output ends with a newline`);
  if (expected.anyOrder) {
    assert.deepEqual([...lines].sort(), [...expected.lines].sort(), context);
    assert.equal(lines.at(-1), expected.lines.at(-1), context);
  } else {
    assert.deepEqual(lines, expected.lines, context);
  }
}
