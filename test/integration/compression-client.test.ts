// permessage-deflate on the client side over real sockets (RFC 7692 §5, §7): connect() with compression against our
// WebSocketServer and against ws in several configurations (120 messages each way, up to 1 MiB), against a raw server
// that compresses with a real zlib stream and inflates ours with the agreed window, and against bad responses.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { constants as zc, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import { WebSocketServer as WsServer } from 'ws';
import {
  type CompressionOption,
  type Connection,
  connect,
  HandshakeError,
  type Message,
  WebSocketServer,
} from '../../src/index.js';
import { binaryOfSize, prng, textOfSize, zeroBomb } from '../helpers/deflate-peer.js';
import { within } from '../helpers/raw-peer.js';
import { OP, type RawPeer as RawServerPeer, RawServer, rawFrame } from '../helpers/raw-server.js';

const MiB = 1024 * 1024;
const COUNT = 110;
const SIZES = [16, 200, 1500, 5000, 20_000];

function workload(seed: number): Array<string | Buffer> {
  const rand = prng(seed);
  const out: Array<string | Buffer> = [];
  for (let i = 0; i < COUNT; i++) {
    if (i === 60) out.push(seed % 2 ? textOfSize(MiB, rand) : Buffer.from(textOfSize(MiB, rand)));
    else if (i === 90) out.push(binaryOfSize(200_000, rand));
    else if (i % 7 === 6) out.push(out[i - 1]!);
    else {
      const size = SIZES[i % SIZES.length]!;
      out.push(i % 3 === 0 ? binaryOfSize(size, rand) : textOfSize(size, rand));
    }
  }
  return out;
}

function payloadBytes(messages: Array<string | Buffer>): number {
  return messages.reduce((n, m) => n + (typeof m === 'string' ? Buffer.byteLength(m) : m.length), 0);
}

/** Sends every message pipelined and checks the echoes, in order. */
async function echoAll(conn: Connection, messages: Array<string | Buffer>): Promise<void> {
  const got: Message[] = [];
  const done = new Promise<void>((resolve, reject) => {
    conn.on('message', (m) => {
      got.push(m);
      if (got.length === messages.length) resolve();
    });
    void conn.closed.then((info) => reject(new Error(`closed early: ${info.code} ${info.reason}`)));
  });
  for (const m of messages) conn.send(m);
  await within(done, 20_000, `${messages.length} echoes (got ${got.length})`);
  messages.forEach((m, i) => {
    const echo = got[i]!;
    if (typeof m === 'string') {
      assert.equal(echo.type, 'text', `message ${i}`);
      assert.ok(echo.data === m, `message ${i}: text differs`);
    } else {
      assert.equal(echo.type, 'binary', `message ${i}`);
      assert.ok(m.equals(echo.data as Buffer), `message ${i}: binary differs`);
    }
  });
}

const CLIENT_MODES: Array<[string, CompressionOption]> = [
  ['dedicated', 'dedicated'],
  ['shared', 'shared'],
  [
    '{ serverMaxWindowBits: 10, clientMaxWindowBits: 11 }',
    { mode: 'dedicated', serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
  ],
];

describe('connect() with compression against our WebSocketServer', () => {
  const SERVERS: Array<[string, CompressionOption]> = [
    ['dedicated', 'dedicated'],
    ['shared', 'shared'],
    ['{ serverMaxWindowBits: 9, clientMaxWindowBits: 10 }', { serverMaxWindowBits: 9, clientMaxWindowBits: 10 }],
  ];
  for (const [serverName, serverCompression] of SERVERS) {
    describe(`server ${serverName}`, () => {
      let wss: WebSocketServer;
      let url: string;
      before(async () => {
        wss = new WebSocketServer({ compression: serverCompression, heartbeat: false, maxMessageSize: 4 * MiB });
        wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
        url = `ws://127.0.0.1:${(await wss.listen(0)).port}/`;
      });
      after(() => wss.close());

      let seed = 0;
      for (const [clientName, clientCompression] of CLIENT_MODES) {
        const mySeed = ++seed;
        test(`client ${clientName}: ${COUNT} messages each way, up to 1 MiB, compressed both ways`, async (t) => {
          const conn = await connect(url, { compression: clientCompression });
          t.after(() => conn.terminate());
          assert.match(conn.extensions, /^permessage-deflate/);
          const messages = workload(mySeed);
          const total = payloadBytes(messages);
          const inBefore = wss.stats.bytesIn;
          await echoAll(conn, messages);
          assert.ok(conn.readCount < total * 0.6, `server frames compressed: ${conn.readCount} of ${total}`);
          const serverRead = wss.stats.bytesIn - inBefore;
          assert.ok(serverRead < total * 0.6, `client frames compressed: ${serverRead} of ${total}`);
          await conn.close();
        });
      }
    });
  }
});

describe('connect() with compression against ws (interop)', () => {
  const CONFIGS: Array<[string, Record<string, unknown>]> = [
    ['perMessageDeflate: true', {}],
    ['serverMaxWindowBits 9', { serverMaxWindowBits: 9 }],
    ['serverMaxWindowBits 10, clientMaxWindowBits 10', { serverMaxWindowBits: 10, clientMaxWindowBits: 10 }],
    ['no context takeover both ways', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ['clientMaxWindowBits 9, serverNoContextTakeover', { clientMaxWindowBits: 9, serverNoContextTakeover: true }],
    ['threshold 0, level 9, memLevel 9', { threshold: 0, zlibDeflateOptions: { level: 9, memLevel: 9 } }],
  ];
  for (const [name, perMessageDeflate] of CONFIGS) {
    describe(`ws { ${name} }`, () => {
      let wss: WsServer;
      let url: string;
      let serverSocket: Socket | null = null;
      let headerSeen = '';
      before(async () => {
        wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 64, ...perMessageDeflate } });
        wss.on('headers', (headers) => {
          headerSeen = headers.find((h) => /^sec-websocket-extensions:/i.test(h)) ?? '';
        });
        wss.on('connection', (ws, req: IncomingMessage) => {
          serverSocket = req.socket as Socket;
          ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        });
        await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
        const addr = wss.address();
        url = `ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
      });
      after(async () => {
        for (const c of wss.clients) c.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      });

      let seed = 100;
      // Every ws configuration against both modes; the configured client once, against ws's defaults.
      const modes = name === 'perMessageDeflate: true' ? CLIENT_MODES : CLIENT_MODES.slice(0, 2);
      for (const [clientName, clientCompression] of modes) {
        const mySeed = ++seed;
        test(`client ${clientName}: ${COUNT} messages each way, up to 1 MiB`, async (t) => {
          const conn = await connect(url, { compression: clientCompression });
          t.after(() => conn.terminate());
          assert.equal(conn.extensions, headerSeen.replace(/^sec-websocket-extensions:\s*/i, ''));
          assert.match(conn.extensions, /^permessage-deflate/);
          const messages = workload(mySeed);
          const total = payloadBytes(messages);
          await echoAll(conn, messages);
          assert.ok(conn.readCount < total * 0.6, `ws frames compressed: ${conn.readCount} of ${total}`);
          const read = serverSocket?.bytesRead ?? Number.POSITIVE_INFINITY;
          assert.ok(read < total * 0.6, `our frames compressed: ws read ${read} of ${total}`);
          await conn.close();
        });
      }
    });
  }
});

// ---- A raw server with real zlib streams: our client's window and context, and the client-side rules ----------

interface ZPeer {
  peer: RawServerPeer;
  conn: Connection;
}

async function rawPair(
  t: { after(fn: () => unknown): void },
  extensions: string,
  compression: CompressionOption = 'dedicated',
  maxMessageSize?: number,
): Promise<ZPeer> {
  const server = await RawServer.start({ handshake: () => ({ extensions }) });
  t.after(() => server.close());
  const conn = await connect(server.url('/'), { compression, ...(maxMessageSize ? { maxMessageSize } : {}) });
  t.after(() => conn.terminate());
  return { peer: await server.nextPeer(), conn };
}

function zlibCall(stream: DeflateRaw | InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer): void => {
      out.push(c);
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.write(input);
    stream.flush(zc.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(out));
    });
  });
}

function nextMessage(conn: Connection): Promise<Message> {
  return within(new Promise<Message>((resolve) => conn.once('message', resolve)), 5000, 'a message on the client');
}

describe('connect() against a raw server compressing with real zlib streams', () => {
  for (const [extensions, clientBits, clientNoContext] of [
    ['permessage-deflate; client_max_window_bits=8', 8, false],
    ['permessage-deflate; client_max_window_bits=9', 9, false],
    ['permessage-deflate; client_max_window_bits=12; server_max_window_bits=10', 12, false],
    ['permessage-deflate; client_no_context_takeover', 15, true],
  ] as const) {
    test(`${extensions}: 60 messages each way through long-lived streams`, async (t) => {
      // Threshold 0: every message goes through the client's compressor, the small ones (64 B up) too.
      const { peer, conn } = await rawPair(t, extensions, { mode: 'dedicated', threshold: 0 });
      const serverBits = /server_max_window_bits=(\d+)/.exec(extensions)?.[1];
      const deflate = createDeflateRaw({ windowBits: serverBits ? Number(serverBits) : 15 });
      let inflate = createInflateRaw({ windowBits: clientBits, chunkSize: 64 });
      t.after(() => {
        deflate.close();
        inflate.close();
      });
      const rand = prng(clientBits);
      let previous: Buffer = Buffer.alloc(0);
      for (let i = 0; i < 60; i++) {
        const data = i % 4 === 3 ? previous : binaryOfSize(64 + ((i * 997) % 20_000), rand);
        previous = data;
        // Client → server: RSV1 on the (single) frame, masked, inflatable with a window of exactly clientBits.
        conn.send(data);
        const f = await peer.readFrame();
        assert.equal(f.rsv1, true, `client frame ${i} compressed`);
        assert.equal(f.opcode, OP.binary);
        if (clientNoContext) {
          inflate.close();
          inflate = createInflateRaw({ windowBits: clientBits, chunkSize: 64 });
        }
        const inflated = await zlibCall(inflate, Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]));
        assert.ok(inflated.equals(data), `client message ${i} inflates to what was sent`);
        // Server → client: a real deflate stream with context takeover, fragmented in every third message.
        const z = await zlibCall(deflate, data);
        const payload = z.subarray(0, z.length - 4);
        const got = nextMessage(conn);
        if (i % 5 === 1) {
          // Chopped delivery: the client reassembles a compressed frame from 7-byte reads.
          await peer.writeChopped(rawFrame({ opcode: OP.binary, payload, rsv1: true }), 7);
        } else if (i % 3 === 0 && payload.length > 2) {
          const cut = payload.length >> 1;
          await peer.write(
            Buffer.concat([
              rawFrame({ opcode: OP.binary, payload: payload.subarray(0, cut), fin: false, rsv1: true }),
              rawFrame({ opcode: OP.cont, payload: payload.subarray(cut) }),
            ]),
          );
        } else {
          await peer.send({ opcode: OP.binary, payload, rsv1: true });
        }
        const m = await got;
        assert.ok(m.type === 'binary' && m.data.equals(data), `server message ${i} inflated by the client`);
      }
      assert.deepEqual(peer.maskViolations, []);
    });
  }

  for (const [name, frames, code] of [
    [
      'RSV1 on a continuation frame',
      [
        rawFrame({ opcode: OP.text, payload: 'ab', fin: false }),
        rawFrame({ opcode: OP.cont, payload: 'cd', rsv1: true }),
      ],
      1002,
    ],
    ['RSV1 on a ping', [rawFrame({ opcode: OP.ping, payload: 'p', rsv1: true })], 1002],
    [
      'corrupt deflate data',
      [rawFrame({ opcode: OP.binary, payload: Buffer.from([0xff, 0xfe, 0xfd]), rsv1: true })],
      1007,
    ],
  ] as const) {
    test(`a server sending ${name} → the client closes with ${code}`, async (t) => {
      const { peer, conn } = await rawPair(t, 'permessage-deflate');
      await peer.write(Buffer.concat(frames));
      const close = await peer.readClose();
      assert.equal(close.code, code);
      peer.end();
      assert.equal((await conn.closed).code, code);
    });
  }

  test('RSV1 from a server that accepted no extension → 1002', async (t) => {
    const server = await RawServer.start();
    t.after(() => server.close());
    const conn = await connect(server.url('/'), { compression: 'dedicated' });
    t.after(() => conn.terminate());
    assert.equal(conn.extensions, '');
    const peer = await server.nextPeer();
    await peer.send({ opcode: OP.text, payload: Buffer.from([0x4a, 0x04, 0x00]), rsv1: true });
    assert.equal((await peer.readClose()).code, 1002);
  });

  test('a compressed text message that inflates to invalid UTF-8 → 1007', async (t) => {
    const { peer, conn } = await rawPair(t, 'permessage-deflate');
    const z = await zlibCall(createDeflateRaw(), Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62]));
    await peer.send({ opcode: OP.text, payload: z.subarray(0, z.length - 4), rsv1: true });
    assert.equal((await peer.readClose()).code, 1007);
    peer.end();
    assert.equal((await conn.closed).code, 1007);
  });

  test('a 64 MiB bomb to a client with maxMessageSize 1 MiB → 1009', async (t) => {
    const { peer, conn } = await rawPair(t, 'permessage-deflate', 'dedicated', MiB);
    await peer.send({ opcode: OP.binary, payload: await zeroBomb(64 * MiB), rsv1: true });
    assert.equal((await peer.readClose()).code, 1009);
    peer.end();
    assert.equal((await conn.closed).code, 1009);
  });
});

describe('connect(): a verdict reached after the server half-closed is still sent', () => {
  test('a bomb unfinished (FIN=0), a ping, a bad close, then FIN: the client answers 1009, the first fault', async (t) => {
    const { peer, conn } = await rawPair(t, 'permessage-deflate', 'dedicated', MiB);
    const bomb = await zeroBomb(4 * MiB);
    // The socket's end arrives while the message is still being inflated in slices: the client must not close
    // the transport before the inflater's verdict, and must not read on past it either.
    await peer.write(
      Buffer.concat([
        rawFrame({ opcode: OP.binary, payload: bomb, rsv1: true, fin: false }),
        rawFrame({ opcode: OP.ping, payload: 'p' }),
        rawFrame({ opcode: OP.close, payload: Buffer.from([0x03]) }),
      ]),
    );
    peer.end();
    assert.equal((await peer.readClose()).code, 1009);
    assert.equal((await within(conn.closed, 5000, 'closed')).code, 1009);
  });
});

describe('connect() refuses a bad Sec-WebSocket-Extensions response with HandshakeError (status 101)', () => {
  const CASES: Array<[response: string, CompressionOption | false, RegExp]> = [
    ['permessage-deflate; foo=1', 'dedicated', /unknown parameter "foo"/],
    [
      'permessage-deflate; server_max_window_bits=16',
      'dedicated',
      /server_max_window_bits must be an integer in 8\.\.15, got "16"/,
    ],
    ['permessage-deflate; server_max_window_bits=7', 'dedicated', /server_max_window_bits.*"7"/],
    ['permessage-deflate; server_max_window_bits', 'dedicated', /server_max_window_bits/],
    ['permessage-deflate; client_max_window_bits', 'dedicated', /client_max_window_bits must be an integer/],
    ['permessage-deflate; client_max_window_bits=abc', 'dedicated', /client_max_window_bits.*"abc"/],
    [
      'permessage-deflate; server_no_context_takeover=1',
      'dedicated',
      /server_no_context_takeover must not have a value/,
    ],
    [
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'dedicated',
      /duplicate parameter client_no_context_takeover/,
    ],
    ['x-webkit-deflate-frame', 'dedicated', /"x-webkit-deflate-frame" was not offered/],
    ['permessage-deflate, permessage-deflate', 'dedicated', /2 extensions accepted/],
    ['permessage-deflate', 'shared', /server_no_context_takeover was requested but is missing/],
    [
      'permessage-deflate; server_no_context_takeover',
      { serverMaxWindowBits: 10 },
      /server_max_window_bits was requested but is missing/,
    ],
    [
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      /server_max_window_bits=12 exceeds the requested 10/,
    ],
    [
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
      /client_max_window_bits=12 exceeds the offered 10/,
    ],
    ['permessage-deflate', false, /extension that was not offered/],
  ];
  let server: RawServer;
  let reply = '';
  before(async () => {
    server = await RawServer.start({ handshake: () => ({ extensions: reply }) });
  });
  after(() => server.close());

  for (const [response, compression, message] of CASES) {
    test(`${JSON.stringify(compression)} ← "${response}"`, async () => {
      reply = response;
      await assert.rejects(connect(server.url('/'), { compression }), (err: unknown) => {
        assert.ok(err instanceof HandshakeError, `a HandshakeError, got ${String(err)}`);
        assert.equal(err.status, 101);
        assert.match(err.message, message);
        return true;
      });
      // The client drops the TCP connection it cannot use.
      const peer = await server.nextPeer();
      await within(peer.ended, 5000, 'the client to drop the connection');
    });
  }
});
