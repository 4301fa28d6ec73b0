// `switchboard serve --tls-cert FILE --tls-key FILE` from outside: HTTPS with HTTP/2 and HTTP/1.1 on one port; a
// hand-written node:http2 client opens /echo as extended CONNECT streams (text and binary, with and without
// permessage-deflate, 100 streams on one session, clean closes); /metrics counts WebSockets per transport.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { constants as zlib, deflateRawSync, inflateRawSync } from 'node:zlib';
import { WebSocket } from 'ws';
import type { DemoServer } from '../../apps/demo-server.js';
import { writeCertificate } from '../helpers/certificate.js';
import { certificate, openH2Peer, openSession } from '../helpers/h2.js';
import { startTestDemo } from '../helpers/demo.js';
import { closeNormally, Op, waitUntil, within } from '../helpers/raw-peer.js';

async function tlsDemo(t: TestContext): Promise<DemoServer> {
  const demo = await startTestDemo({ tls: await certificate(), compression: 'dedicated' });
  t.after(() => demo.close());
  return demo;
}

/** GET `path` on `session`: status, content type and body. */
async function get(session: ClientHttp2Session, path: string): Promise<{ status: number; type: string; body: string }> {
  const req = session.request({ ':path': path });
  const [headers] = (await within(once(req, 'response'), 5_000, `GET ${path}`)) as [Record<string, unknown>];
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  await within(once(req, 'end'), 5_000, `the body of ${path}`);
  return {
    status: Number(headers[':status']),
    type: String(headers['content-type']),
    body: Buffer.concat(parts).toString(),
  };
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const NO_TAKEOVER = 'permessage-deflate; client_no_context_takeover; server_no_context_takeover';

describe('the demo over HTTPS: HTTP/2 and HTTP/1.1 on one port', () => {
  it('/echo as extended CONNECT streams: text and binary, compressed and not, closed cleanly', async (t) => {
    const demo = await tlsDemo(t);
    assert.match(demo.url, /^https:\/\//);
    const session = await openSession(t, demo.url);
    assert.equal(session.alpnProtocol, 'h2');
    const plain = await openH2Peer(t, session);
    await plain.sendText('plain text');
    await plain.expectEcho('plain text');
    await plain.sendBinary(Buffer.from([1, 2, 3]));
    await plain.expectEcho(Buffer.from([1, 2, 3]), 'binary');
    await closeNormally(plain);
    assert.equal(await plain.closed, 0);

    const zipped = await openH2Peer(t, session, '/echo', { 'sec-websocket-extensions': NO_TAKEOVER });
    assert.match(String(zipped.headers['sec-websocket-extensions']), /permessage-deflate/);
    for (const [opcode, data] of [
      // Both above the default threshold (1 KiB), so the echo comes back compressed.
      [Op.Text, Buffer.from('{"hello":"over h2"} '.repeat(60))],
      [Op.Binary, Buffer.alloc(2048, 9)],
    ] as const) {
      const out = deflateRawSync(data, { finishFlush: zlib.Z_SYNC_FLUSH });
      await zipped.send({ opcode, payload: out.subarray(0, out.length - 4), rsv: 4 });
      const echo = await zipped.nextFrame();
      assert.equal(echo.rsv, 4);
      const back = inflateRawSync(Buffer.concat([echo.payload, TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH });
      assert.ok(back.equals(data));
    }
    await closeNormally(zipped);
    assert.equal(session.closed, false);
  });

  it('100 streams share one session; /metrics and transports() count them as h2, a ws client as http/1.1', async (t) => {
    const demo = await tlsDemo(t);
    const session = await openSession(t, demo.url);
    const peers = await Promise.all(Array.from({ length: 100 }, () => openH2Peer(t, session)));
    const ws = new WebSocket(`${demo.url.replace('https', 'wss')}/echo`, { rejectUnauthorized: false });
    t.after(() => ws.terminate());
    await within(once(ws, 'open'), 5_000, 'the HTTP/1.1 WebSocket');
    await waitUntil(() => demo.connections() === 101, 'the server to count 101 WebSockets');
    assert.deepEqual(demo.transports(), { h2: 100, 'http/1.1': 1 });
    const metrics = await get(session, '/metrics');
    assert.match(metrics.body, /switchboard_websockets_open\{transport="h2"\} 100/);
    assert.match(metrics.body, /switchboard_websockets_open\{transport="http\/1.1"\} 1/);
    await Promise.all(peers.map((p, i) => p.sendText(`m${i}`)));
    for (const [i, p] of peers.entries()) await p.expectEcho(`m${i}`);
    await Promise.all(peers.map((p) => closeNormally(p)));
    await waitUntil(() => demo.transports().h2 === 0, 'the h2 count to drop');
  });

  it('/broadcast through the hub reaches HTTP/2 streams and HTTP/1.1 connections alike, in order', async (t) => {
    const demo = await tlsDemo(t);
    const session = await openSession(t, demo.url);
    const peers = await Promise.all([1, 2, 3].map(() => openH2Peer(t, session, '/broadcast')));
    const ws = new WebSocket(`${demo.url.replace('https', 'wss')}/broadcast`, { rejectUnauthorized: false });
    t.after(() => ws.terminate());
    const got: string[] = [];
    ws.on('message', (data) => got.push(String(data)));
    await within(once(ws, 'open'), 5_000, 'the HTTP/1.1 subscriber');
    await waitUntil(() => demo.connections() === 4, 'four subscribers');
    // One session carries the three streams, so their messages reach the hub in the order sent.
    const news = Array.from({ length: 10 }, (_, i) => `news ${i}`);
    for (const [i, m] of news.entries()) await peers[i % 3]!.sendText(m);
    for (const p of peers) for (const m of news) await p.expectEcho(m);
    ws.send('news from http/1.1');
    for (const p of peers) await p.expectEcho('news from http/1.1');
    const all = [...news, 'news from http/1.1'];
    await waitUntil(() => got.length === all.length, 'the HTTP/1.1 subscriber to have them all');
    assert.deepEqual(got, all);
  });

  it('the pages come over HTTP/2 too; a GET on /echo gets 405 with Allow: CONNECT', async (t) => {
    const demo = await tlsDemo(t);
    const session = await openSession(t, demo.url);
    const page = await get(session, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /chat/i);
    assert.equal((await get(session, '/dashboard.js')).status, 200);
    assert.equal((await get(session, '/echo')).status, 405);
  });
});

describe('switchboard serve --tls-cert --tls-key', () => {
  it('serves /echo over HTTP/2 from a real process, and closes the stream with 1001 on SIGTERM', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-serve-tls-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { certFile, keyFile } = await writeCertificate(dir);
    const child: ChildProcess = spawn(
      process.execPath,
      ['bin/switchboard.js', 'serve', '--port', '0', '--tls-cert', certFile, '--tls-key', keyFile],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await waitUntil(() => /listening on https:\/\//.test(out), 'serve to listen', 10_000);
    const url = /listening on (https:\/\/\S+)/.exec(out)![1]!;
    const session = await openSession(t, url);
    const peer = await openH2Peer(t, session);
    await peer.sendText('from outside');
    await peer.expectEcho('from outside');
    child.kill('SIGTERM');
    const f = await peer.nextFrame(10_000);
    assert.equal(f.opcode, Op.Close);
    assert.equal(f.payload.readUInt16BE(0), 1001);
    await peer.sendClose(1001);
    const [code] = await within(once(child, 'exit'), 10_000, 'serve to exit');
    assert.equal(code, 0);
  });
});
