// Malformed input over real sockets: refused opening handshakes (RFC 6455 §4.2.1, §4.2.2, §4.4), invalid frames,
// garbage, and peers that vanish mid-frame. The server must answer or close every socket, and keep serving others.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type CloseInfo, type Connection, WebSocketServer } from '../../src/index.js';
import { useDemo } from '../helpers/demo.js';
import {
  dialPeer,
  encodeFrame,
  type HandshakeOptions,
  Op,
  openPeer,
  type RawPeer,
  stillServes as stillServesOn,
  waitUntil,
  within,
} from '../helpers/raw-peer.js';

const demo = useDemo();

const UPGRADE_REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

const dial = (t: TestContext, port = demo.port): Promise<RawPeer> => dialPeer(t, port);
const stillServes = (t: TestContext, port = demo.port): Promise<void> => stillServesOn(t, port);

describe('refused handshakes get an HTTP status and a closed socket', () => {
  // Without both `Upgrade: websocket` and `Connection: Upgrade`, node's HTTP parser sees an ordinary request and never
  // emits 'upgrade'; the demo hands such requests to WebSocketServer#handleRequest, which names what is missing.
  const cases: Array<{
    name: string;
    opts: HandshakeOptions;
    status: number;
    header?: [string, string];
  }> = [
    { name: 'POST instead of GET', opts: { method: 'POST' }, status: 405 },
    { name: 'HTTP/1.0', opts: { httpVersion: '1.0' }, status: 400 },
    { name: 'missing Upgrade', opts: { headers: { Upgrade: undefined } }, status: 400 },
    { name: 'Upgrade: h2c', opts: { headers: { Upgrade: 'h2c' } }, status: 400 },
    {
      name: 'missing Connection: Upgrade',
      opts: { headers: { Connection: undefined } },
      status: 400,
    },
    {
      name: 'Connection: keep-alive only',
      opts: { headers: { Connection: 'keep-alive' } },
      status: 400,
    },
    {
      name: 'version 8',
      opts: { headers: { 'Sec-WebSocket-Version': '8' } },
      status: 426,
      header: ['sec-websocket-version', '13'],
    },
    {
      name: 'missing version',
      opts: { headers: { 'Sec-WebSocket-Version': undefined } },
      status: 426,
      header: ['sec-websocket-version', '13'],
    },
    { name: 'missing key', opts: { headers: { 'Sec-WebSocket-Key': undefined } }, status: 400 },
    { name: 'short key', opts: { headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } }, status: 400 },
    {
      name: 'key that is not base64',
      opts: { headers: { 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' } },
      status: 400,
    },
    {
      name: 'disallowed Origin (same-origin default)',
      opts: { headers: { Origin: 'http://evil.example' } },
      status: 403,
    },
    { name: 'Origin "null"', opts: { headers: { Origin: 'null' } }, status: 403 },
    { name: 'unknown path', opts: { path: '/nope' }, status: 404 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async (t) => {
      const peer = await dial(t);
      const res = await peer.handshake(c.opts);
      assert.equal(res.status, c.status, `${res.statusLine}: ${res.body}`);
      if (c.header) assert.equal(res.headers[c.header[0]], c.header[1]);
      // handshake() only returns a non-101 answer once the server has closed the connection.
      await within(peer.tcpClosed, 5_000, 'the refused socket to close');
      await stillServes(t);
    });
  }

  it('an Origin equal to the Host is accepted under same-origin', async (t) => {
    const peer = await dial(t);
    const res = await peer.handshake({ headers: { Origin: `http://127.0.0.1:${demo.port}` } });
    assert.equal(res.status, 101);
    await peer.sendText('same origin');
    await peer.expectEcho('same origin');
  });

  it('an origin on an explicit allowlist is accepted, others are not', async (t) => {
    const wss = new WebSocketServer({ origins: ['https://app.example.com'], heartbeat: false, shutdownTimeout: 500 });
    wss.on('connection', (conn) => conn.on('message', (msg) => conn.send(msg.data)));
    const { port } = await wss.listen(0, '127.0.0.1');
    t.after(() => wss.close());
    const ok = await dial(t, port);
    assert.equal((await ok.handshake({ headers: { Origin: 'https://app.example.com' } })).status, 101);
    await ok.sendText('allowed');
    await ok.expectEcho('allowed');
    await ok.sendClose(1000);
    await ok.expectClose(1000);
    const bad = await dial(t, port);
    assert.equal((await bad.handshake({ headers: { Origin: 'https://evil.example.com' } })).status, 403);
  });

  it('oversized request headers → 431 and the socket is closed', async (t) => {
    const peer = await dial(t);
    const res = await peer.handshake({ headers: { 'X-Padding': 'a'.repeat(64 << 10) } });
    assert.equal(res.status, 431);
    await within(peer.tcpClosed, 5_000, 'the refused socket to close');
    await stillServes(t);
  });

  it('a request line that is not HTTP → 400 and the socket is closed', async (t) => {
    const peer = await dial(t);
    const res = await peer.request(
      Buffer.from('16030102000100 01fc0303 6e6f742068747470 0d0a0d0a'.replace(/ /g, ''), 'hex'),
    );
    assert.equal(res.status, 400);
    await stillServes(t);
  });
});

describe('malformed frames and vanishing peers', () => {
  let wss: WebSocketServer;
  let port: number;
  const conns: Connection[] = [];
  before(async () => {
    wss = new WebSocketServer({ heartbeat: false, closeTimeout: 1_000 });
    wss.on('connection', (conn) => {
      conns.push(conn);
      conn.on('error', () => {});
      conn.on('message', (msg) => conn.send(msg.data));
    });
    ({ port } = await wss.listen(0, '127.0.0.1'));
  });
  after(() => wss.close());

  /** Opens a peer and returns it with the server's side of the same connection. */
  async function pair(t: TestContext): Promise<{ peer: RawPeer; conn: Connection }> {
    const before = conns.length;
    const peer = await openPeer(t, port);
    await waitUntil(() => conns.length > before, 'the server to emit the connection');
    return { peer, conn: conns.at(-1)! };
  }

  function serverClose(conn: Connection): Promise<CloseInfo> {
    return within(conn.closed, 5_000, 'the server-side connection to close');
  }

  it('a peer that vanishes after half a frame: closed resolves with 1006, wasClean false', async (t) => {
    const { peer, conn } = await pair(t);
    const frame = encodeFrame({ opcode: Op.Text, payload: 'x'.repeat(1000) });
    await peer.sendRaw(frame.subarray(0, 500));
    peer.destroy();
    assert.deepEqual(await serverClose(conn), { code: 1006, reason: '', wasClean: false });
    await stillServes(t, port);
  });

  it('a peer that vanishes after half a header: 1006', async (t) => {
    const { peer, conn } = await pair(t);
    await peer.sendRaw(encodeFrame({ opcode: Op.Binary, payload: Buffer.alloc(70_000) }).subarray(0, 5));
    peer.destroy();
    const info = await serverClose(conn);
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
  });

  it('a peer that half-closes TCP mid-message: the server closes too, 1006', async (t) => {
    const { peer, conn } = await pair(t);
    await peer.send({ opcode: Op.Text, payload: 'part', fin: false });
    peer.socket.end();
    const info = await serverClose(conn);
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
    await within(peer.tcpClosed, 5_000, 'the server to close its side');
  });

  it('garbage right after the handshake → 1002 and the connection is closed', async (t) => {
    const { peer, conn } = await pair(t);
    // 'GET / HTTP/1.1' as a frame: FIN clear, RSV set, unmasked — a protocol error at the first byte.
    await peer.sendRaw('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await peer.expectClose(1002);
    const info = await serverClose(conn);
    assert.equal(info.code, 1002);
    await stillServes(t, port);
  });

  it('garbage in the same packet as the handshake (node hands it over as `head`) → 1002', async (t) => {
    const peer = await dial(t, port);
    const res = await peer.request(
      // 0xff 0x00: FIN, all three RSV bits, opcode 0xF, unmasked, length 0: a complete header that breaks three rules.
      Buffer.concat([Buffer.from(UPGRADE_REQUEST), Buffer.from([0xff, 0x00, 0xde, 0xad])]),
    );
    assert.equal(res.status, 101);
    await peer.expectClose(1002);
  });

  it('a valid frame in the same packet as the handshake is echoed', async (t) => {
    const peer = await dial(t, port);
    const frame = encodeFrame({ opcode: Op.Text, payload: 'early bird' });
    assert.equal((await peer.request(Buffer.concat([Buffer.from(UPGRADE_REQUEST), frame]))).status, 101);
    await peer.expectEcho('early bird');
  });

  const invalidFrames: Array<[string, Buffer, number]> = [
    ['unmasked text', encodeFrame({ opcode: Op.Text, payload: 'hi', mask: false }), 1002],
    ['RSV1 without compression', encodeFrame({ opcode: Op.Text, payload: 'hi', rsv: 4 }), 1002],
    ['reserved opcode 0x3', encodeFrame({ opcode: 0x3, payload: 'hi' }), 1002],
    ['reserved control opcode 0xb', encodeFrame({ opcode: 0xb }), 1002],
    ['ping of 126 bytes', encodeFrame({ opcode: Op.Ping, payload: Buffer.alloc(126) }), 1002],
    ['fragmented close', encodeFrame({ opcode: Op.Close, payload: Buffer.from([3, 232]), fin: false }), 1002],
    ['lone continuation', encodeFrame({ opcode: Op.Continuation, payload: 'x' }), 1002],
    ['close with code 1005', encodeFrame({ opcode: Op.Close, payload: Buffer.from([0x03, 0xed]) }), 1002],
    ['invalid UTF-8 text', encodeFrame({ opcode: Op.Text, payload: Buffer.from([0xc0, 0xaf]) }), 1007],
  ];
  it('each invalid frame: the right close code on the wire and in conn.closed, then TCP closes', async (t) => {
    for (const [name, bytes, code] of invalidFrames) {
      const { peer, conn } = await pair(t);
      await peer.sendRaw(bytes);
      await assert.doesNotReject(peer.expectClose(code), name);
      const info = await serverClose(conn);
      assert.equal(info.code, code, name);
      assert.equal(info.wasClean, false, `${name}: a failed connection is not clean`);
    }
    await waitUntil(() => wss.clients.size === 0, 'the server to forget every failed connection');
    await stillServes(t, port);
  });

  it('a peer that never answers the server close is dropped after closeTimeout', async (t) => {
    const { peer, conn } = await pair(t);
    // Keep our side open: ignore the FIN so the server cannot rely on us closing.
    peer.socket.on('end', () => {});
    peer.socket.allowHalfOpen = true;
    void conn.close(1000, 'bye');
    const info = await serverClose(conn);
    assert.equal(info.code, 1000);
    assert.equal(info.wasClean, false);
  });

  it('the clean path for contrast: our close answered → closed resolves wasClean true with our code', async (t) => {
    const { peer, conn } = await pair(t);
    await peer.sendClose(4001, 'done');
    await peer.expectClose(4001);
    assert.deepEqual(await serverClose(conn), { code: 4001, reason: 'done', wasClean: true });
  });
});
