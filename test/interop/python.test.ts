// Interop with Python's `websockets` (an independent RFC 6455 / RFC 7692 implementation), both ways: its client
// against our server, our client against its server. Peers live in test/interop/peers/; they need /usr/bin/python3
// with the `websockets` module (Debian: python3-websockets), and the tests fail, not skip, without it.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { connect } from '../../src/client.js';
import type { Connection } from '../../src/connection/connection.js';
import { HandshakeError } from '../../src/errors.js';
import type { CompressionOption } from '../../src/extensions/permessage-deflate.js';
import { WebSocketServer } from '../../src/server.js';
import { inboxOf } from '../helpers/inbox.js';
import { pattern, text } from '../helpers/payloads.js';
import { within } from '../helpers/raw-server.js';

const PYTHON = '/usr/bin/python3';
// Compiled to dist/test/interop/: the peers stay in the source tree.
const PEERS = fileURLToPath(new URL('../../../test/interop/peers/', import.meta.url));
const WAIT = 10_000;
const RUN_LIMIT = 40_000;

let probed: { version: string } | { error: string } | null = null;

/** Fails the calling test (never skips it) when /usr/bin/python3 cannot import websockets; CI installs it. */
function requirePythonWebsockets(): string {
  probed ??= (() => {
    const probe = spawnSync(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (probe.error || probe.status !== 0) return { error: probe.error?.message ?? probe.stderr.trim() };
    return { version: probe.stdout.trim() };
  })();
  if ('error' in probed) {
    assert.fail(
      `Python interop needs ${PYTHON} with the websockets module (Debian/Ubuntu: apt-get install python3-websockets); ` +
        `the probe failed: ${probed.error}`,
    );
  }
  return probed.version;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a peer script to completion, killing it at the deadline. */
function runPeer(t: TestContext, script: string, args: string[], ms = RUN_LIMIT): Promise<RunResult> {
  const child = spawn(PYTHON, [PEERS + script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return within(exited, ms, `${script} to finish`).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; stderr so far: ${stderr}`);
  });
}

/** Starts echo_server.py and resolves with its port; it is stopped (stdin closed, then SIGTERM) after the test. */
async function startPythonServer(t: TestContext, compression: 'deflate' | 'none'): Promise<number> {
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [`${PEERS}echo_server.py`, '--compression', compression]);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const gone = new Promise<void>((resolve) => child.on('close', () => resolve()));
  t.after(async () => {
    child.stdin.end();
    child.kill('SIGTERM');
    await within(gone, WAIT, 'echo_server.py to exit').catch(() => child.kill('SIGKILL'));
  });
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('close', (code) => reject(new Error(`echo_server.py exited with ${code} before listening: ${stderr}`)));
  });
  return within(port, WAIT, 'echo_server.py to listen');
}

function extensionPattern(mode: CompressionOption): RegExp {
  if (mode === false) return /^$/;
  if (mode === 'shared') return /^permessage-deflate.*server_no_context_takeover/;
  return /^permessage-deflate(?!.*server_no_context_takeover)/;
}

describe('Python websockets client → switchboard server', () => {
  const cases: Array<[CompressionOption, 'deflate' | 'none']> = [
    [false, 'deflate'],
    ['dedicated', 'deflate'],
    ['shared', 'deflate'],
    ['dedicated', 'none'],
  ];
  for (const [mode, theirs] of cases) {
    it(`our server (compression ${mode}) ↔ Python client (compression ${theirs}): sizes, fragments, 150 messages, 16 MiB, ping, close`, async (t) => {
      requirePythonWebsockets();
      const wss = new WebSocketServer({ origins: '*', heartbeat: false, compression: mode, protocols: ['chat.v1'] });
      const conns: Connection[] = [];
      wss.on('connection', (conn) => {
        conns.push(conn);
        conn.on('message', (m) => conn.send(m.data));
      });
      const addr = await wss.listen(0, '127.0.0.1');
      t.after(() => wss.close());
      const result = await runPeer(t, 'echo_client.py', [
        `ws://127.0.0.1:${addr.port}/echo`,
        '--compression',
        theirs,
        '--big',
        String(16 << 20),
        '--protocol',
        'chat.v1',
      ]);
      assert.equal(result.code, 0, `echo_client.py failed (${result.code ?? result.signal}): ${result.stderr}`);
      const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as {
        extensions: string;
        subprotocol: string | null;
        messages: number;
        close_code: number;
      };
      assert.match(report.extensions, theirs === 'none' ? /^$/ : extensionPattern(mode));
      assert.equal(report.subprotocol, 'chat.v1');
      assert.equal(report.messages, 169);
      assert.equal(report.close_code, 4000, 'we echo the close code');
      assert.equal(conns.length, 1);
      const conn = conns[0]!;
      assert.equal(conn.protocol, 'chat.v1');
      assert.equal(conn.extensions, report.extensions);
      assert.deepEqual(await within(conn.closed, WAIT, 'closed'), { code: 4000, reason: 'py bye', wasClean: true });
      assert.equal(wss.stats.messagesIn, 169);
      assert.equal(wss.stats.protocolErrors, 0);
    });
  }
});

describe('switchboard client → Python websockets server', () => {
  for (const mode of [false, 'dedicated', 'shared'] as const) {
    it(`our client (compression ${mode}) ↔ Python server: sizes, fragments, 150 messages, large, ping, close 4001`, async (t) => {
      requirePythonWebsockets();
      const port = await startPythonServer(t, 'deflate');
      const conn = await connect(`ws://127.0.0.1:${port}/echo`, { compression: mode, protocols: ['chat.v1', 'other'] });
      t.after(() => conn.terminate());
      const inbox = inboxOf(conn, WAIT, 'an echo from Python');
      assert.equal(conn.protocol, 'chat.v1');
      assert.match(conn.extensions, extensionPattern(mode));

      for (const size of [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]) {
        const tx = text(size, size);
        conn.send(tx);
        assert.deepEqual(await inbox.next(), { type: 'text', data: tx }, `text of ${size} bytes`);
        const bin = pattern(size, size);
        conn.send(bin);
        const b = await inbox.next();
        assert.ok(b.type === 'binary' && b.data.equals(bin), `binary of ${size} bytes`);
      }

      const w = conn.writer('text');
      for (const piece of ['frag', 'mented ', 'mess€ge']) w.write(Buffer.from(piece));
      w.end();
      assert.deepEqual(await inbox.next(), { type: 'text', data: 'fragmented mess€ge' });

      const batch = Array.from({ length: 150 }, (_, i) =>
        i % 10 === 3
          ? pattern(200 + i, i)
          : JSON.stringify({ seq: i, topic: 'room:42', user: `user-${i % 7}`, body: text(80 + (i % 30), i) }),
      );
      for (const m of batch) conn.send(m);
      for (let i = 0; i < batch.length; i++) {
        const got = await inbox.next();
        const want = batch[i]!;
        if (typeof want === 'string') assert.deepEqual(got, { type: 'text', data: want }, `batch message ${i}`);
        else assert.ok(got.type === 'binary' && got.data.equals(want), `batch message ${i}`);
      }

      const big = pattern(mode === false ? 16 << 20 : 4 << 20, 9);
      conn.send(big);
      const echoed = await inbox.next(30_000);
      assert.ok(echoed.type === 'binary' && echoed.data.equals(big), `large message of ${big.length} bytes`);

      const pong = new Promise<Buffer>((resolve) => conn.once('pong', resolve));
      conn.ping('from switchboard');
      assert.equal((await within(pong, WAIT, 'pong')).toString(), 'from switchboard');

      assert.deepEqual(await within(conn.close(4001, 'bye'), WAIT, 'close()'), {
        code: 4001,
        reason: 'bye',
        wasClean: true,
      });
    });
  }

  it('reports a close the Python server starts (4002 "server bye")', async (t) => {
    requirePythonWebsockets();
    const port = await startPythonServer(t, 'none');
    const conn = await connect(`ws://127.0.0.1:${port}/echo`);
    t.after(() => conn.terminate());
    conn.send('close-me');
    assert.deepEqual(await within(conn.closed, WAIT, 'closed'), { code: 4002, reason: 'server bye', wasClean: true });
  });

  it('rejects with a HandshakeError (status 403) when the Python server refuses the request', async (t) => {
    requirePythonWebsockets();
    const port = await startPythonServer(t, 'none');
    await assert.rejects(connect(`ws://127.0.0.1:${port}/forbidden`), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.status, 403);
      return true;
    });
  });

  it('runs against the installed websockets module (version reported)', () => {
    assert.match(requirePythonWebsockets(), /^\d+\.\d+/);
  });
});
