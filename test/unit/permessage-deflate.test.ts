// permessage-deflate (RFC 7692): config, negotiation in both roles (Autobahn 13.x offers), and the runtime covering
// Autobahn 12.x/13.x at unit level, interop with long-lived zlib streams, size caps and corrupt data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { HandshakeError, ProtocolError } from '../../src/errors.js';
import {
  acceptServerResponse,
  clientOffer,
  type DeflateParams,
  type DeflateRole,
  negotiateServer,
  PerMessageDeflate,
  RETAINED_BYTES_PER_CONNECTION,
  type ResolvedCompression,
  resolveCompression,
  retainedWindowBytes,
} from '../../src/extensions/permessage-deflate.js';
import { CloseCode } from '../../src/protocol/constants.js';
import { prng } from '../helpers/deflate-peer.js';

const SYNC = zlib.constants.Z_SYNC_FLUSH;
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

function cfgOf(opt: Parameters<typeof resolveCompression>[0]): ResolvedCompression {
  const cfg = resolveCompression(opt);
  assert.ok(cfg);
  return cfg;
}
const DEDICATED = cfgOf('dedicated');
const SHARED = cfgOf('shared');

/** JSON-ish UTF-8 text of `size` bytes, with multi-byte characters (the last one may be cut: deflate does not care). */
function text(size: number, rand: () => number): Buffer {
  const parts: string[] = [];
  for (let bytes = 0; bytes < size; ) {
    const part = `{"id":${Math.floor(rand() * 1e6)},"user":"nüt-${Math.floor(rand() * 99)}","tags":["α","β"],"v":${rand().toFixed(3)}},`;
    parts.push(part);
    bytes += Buffer.byteLength(part);
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Binary of `size` bytes: random runs mixed with copies from 1 B to 40 KiB back, so every window size matters. */
function binary(size: number, rand: () => number): Buffer {
  const b = Buffer.alloc(size);
  let i = 0;
  while (i < size) {
    const run = Math.min(size - i, 8 + Math.floor(rand() * 120));
    const dist = 1 + Math.floor(rand() ** 3 * 40_000);
    if (rand() < 0.5 || dist > i) for (let k = 0; k < run; k++) b[i + k] = Math.floor(rand() * 256);
    else for (let k = 0; k < run; k++) b[i + k] = b[i + k - dist] ?? 0;
    i += run;
  }
  return b;
}

const SIZES = [0, 16, 31, 32, 100, 1000, 1024, 4096, 16383, 16384, 16385, 65535, 65536, 131072, 262144];

/** Autobahn 12.x-style traffic: every size as text and binary, plus exact repeats that only context takeover shrinks. */
function traffic(seed: number): Buffer[] {
  const rand = prng(seed);
  const out: Buffer[] = [];
  for (const size of SIZES) out.push(text(size, rand), binary(size, rand));
  const base = out.length;
  for (let k = 0; k < 6; k++) out.push(out[Math.floor(rand() * base)] ?? Buffer.alloc(0));
  return out;
}

function params(p: Partial<DeflateParams> = {}): DeflateParams {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...p,
  };
}

function expectProtocolError(fn: () => unknown, closeCode: CloseCode): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.closeCode === closeCode);
}

describe('resolveCompression', () => {
  it('maps false/undefined to null and fills defaults', () => {
    assert.equal(resolveCompression(false), null);
    assert.equal(resolveCompression(undefined), null);
    assert.deepEqual(resolveCompression('shared'), {
      mode: 'shared',
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
      level: 6,
      memLevel: 8,
      threshold: 1024,
    });
    assert.equal(resolveCompression({})?.mode, 'dedicated');
    assert.deepEqual(
      resolveCompression({ mode: 'shared', serverMaxWindowBits: 8, level: 0, memLevel: 9, threshold: 0 }),
      {
        mode: 'shared',
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 15,
        level: 0,
        memLevel: 9,
        threshold: 0,
      },
    );
  });

  const ranges: Array<[string, unknown]> = [
    ['serverMaxWindowBits', 7],
    ['serverMaxWindowBits', 16],
    ['clientMaxWindowBits', 9.5],
    ['level', -1],
    ['level', 10],
    ['memLevel', 0],
    ['memLevel', 10],
    ['threshold', -1],
    ['threshold', Number.NaN],
  ];
  for (const [key, value] of ranges) {
    it(`RangeError for ${key}=${value}`, () => {
      assert.throws(() => resolveCompression({ [key]: value } as never), RangeError);
    });
  }
  it('TypeError for wrong types, unknown keys and modes', () => {
    assert.throws(() => resolveCompression({ level: '6' } as never), TypeError);
    assert.throws(() => resolveCompression({ windowBits: 10 } as never), TypeError);
    assert.throws(() => resolveCompression({ mode: 'both' } as never), TypeError);
    assert.throws(() => resolveCompression('yes' as never), TypeError);
    assert.throws(() => resolveCompression(null as never), TypeError);
    assert.throws(() => resolveCompression(true as never), TypeError);
  });
});

/** Autobahn's client offer for (requestNoContextTakeover, requestMaxWindowBits); it always accepts both client params. */
function autobahnOffer([noContext, bits]: readonly [boolean, number]): string {
  let s = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';
  if (noContext) s += '; server_no_context_takeover';
  if (bits !== 0) s += `; server_max_window_bits=${bits}`;
  return s;
}

describe('negotiateServer: Autobahn 13.x offers', () => {
  const AUTOBAHN_TRAFFIC = traffic(13);
  const cases: Array<Array<readonly [boolean, number]>> = [
    [[false, 0]],
    [[true, 0]],
    [[false, 8]],
    [[false, 15]],
    [[true, 8]],
    [[true, 15]],
    [
      [false, 8],
      [true, 0],
      [false, 0],
    ],
    [
      [true, 8],
      [true, 0],
      [false, 0],
    ],
  ];
  for (const offers of cases) {
    for (const cfg of [DEDICATED, SHARED]) {
      it(`${JSON.stringify(offers)} in ${cfg.mode} mode`, async () => {
        const got = negotiateServer(offers.map(autobahnOffer).join(', '), cfg);
        assert.ok(got);
        const [noContext, bits] = offers[0] ?? [false, 0];
        const expected: string[] = [];
        if (noContext || cfg.mode === 'shared') expected.push('server_no_context_takeover');
        expected.push('client_no_context_takeover');
        if (bits !== 0) expected.push(`server_max_window_bits=${bits}`);
        assert.equal(got.response, ['permessage-deflate', ...expected].join('; '));
        assert.deepEqual(
          got.params,
          params({
            serverNoContextTakeover: noContext || cfg.mode === 'shared',
            clientNoContextTakeover: true,
            serverMaxWindowBits: bits || 15,
          }),
        );
        // The peer reads the same response; traffic then flows both ways.
        await roundTrip(got.params, cfg, AUTOBAHN_TRAFFIC);
      });
    }
  }

  it('a plain offer gets a plain response in dedicated mode', () => {
    assert.deepEqual(negotiateServer('permessage-deflate', DEDICATED), {
      params: params(),
      response: 'permessage-deflate',
    });
  });
  it('Chromium’s offer', () => {
    assert.equal(
      negotiateServer('permessage-deflate; client_max_window_bits', DEDICATED)?.response,
      'permessage-deflate',
    );
    assert.equal(
      negotiateServer('permessage-deflate; client_max_window_bits', SHARED)?.response,
      'permessage-deflate; server_no_context_takeover',
    );
  });
});

describe('negotiateServer: declining and limits', () => {
  const invalid = [
    'permessage-deflate; foo',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; client_no_context_takeover="x"',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=abc',
    'permessage-deflate; server_max_window_bits=10.0',
    'permessage-deflate; server_max_window_bits=-9',
    'permessage-deflate; client_max_window_bits=7',
    'permessage-deflate; client_max_window_bits=16',
    'permessage-deflate; client_max_window_bits=x',
    // §7.1.2.1/§7.1.2.2: "a decimal integer value without leading zeroes".
    'permessage-deflate; server_max_window_bits=09',
    'permessage-deflate; server_max_window_bits="010"',
    'permessage-deflate; client_max_window_bits=08',
    'permessage-deflate; client_max_window_bits=0015',
  ];
  for (const offer of invalid) {
    it(`declines ${offer}, then takes the next valid offer`, () => {
      assert.equal(negotiateServer(offer, DEDICATED), null);
      assert.equal(
        negotiateServer(`${offer}, x-other, permessage-deflate; server_max_window_bits=9`, DEDICATED)?.response,
        'permessage-deflate; server_max_window_bits=9',
      );
    });
  }

  it('returns null for a malformed header, a missing header, or no permessage-deflate', () => {
    assert.equal(negotiateServer('permessage-deflate; server_max_window_bits=', DEDICATED), null);
    assert.equal(negotiateServer('permessage-deflate, "x"', DEDICATED), null);
    assert.equal(negotiateServer(undefined, DEDICATED), null);
    assert.equal(negotiateServer('', DEDICATED), null);
    assert.equal(negotiateServer('x-webkit-deflate-frame', DEDICATED), null);
  });

  it('accepts a quoted value and any case in names', () => {
    assert.equal(
      negotiateServer('PerMessage-Deflate; Server_Max_Window_Bits="10"', DEDICATED)?.response,
      'permessage-deflate; server_max_window_bits=10',
    );
  });

  it('honours a smaller requested server window and announces a configured limit unasked', () => {
    const cfg10 = cfgOf({ serverMaxWindowBits: 10 });
    assert.equal(
      negotiateServer('permessage-deflate', cfg10)?.response,
      'permessage-deflate; server_max_window_bits=10',
    );
    assert.equal(
      negotiateServer('permessage-deflate; server_max_window_bits=12', cfg10)?.response,
      'permessage-deflate; server_max_window_bits=10',
    );
    assert.equal(negotiateServer('permessage-deflate; server_max_window_bits=9', cfg10)?.params.serverMaxWindowBits, 9);
  });

  it('sends client_max_window_bits only when offered (RFC 7692 §7.1.2.2)', () => {
    const cfg10 = cfgOf({ clientMaxWindowBits: 10 });
    assert.equal(negotiateServer('permessage-deflate', cfg10), null, 'cannot impose the limit, so decline');
    const got = negotiateServer('permessage-deflate; client_max_window_bits', cfg10);
    assert.equal(got?.response, 'permessage-deflate; client_max_window_bits=10');
    assert.equal(got?.params.clientMaxWindowBits, 10);
    assert.equal(
      negotiateServer('permessage-deflate; client_max_window_bits=9', cfg10)?.response,
      'permessage-deflate; client_max_window_bits=9',
    );
    assert.equal(
      negotiateServer('permessage-deflate; client_max_window_bits=12', DEDICATED)?.response,
      'permessage-deflate; client_max_window_bits=12',
    );
  });
});

describe('clientOffer and acceptServerResponse', () => {
  it('offers what the config asks', () => {
    assert.equal(clientOffer(DEDICATED), 'permessage-deflate; client_max_window_bits');
    assert.equal(clientOffer(SHARED), 'permessage-deflate; client_max_window_bits; server_no_context_takeover');
    assert.equal(
      clientOffer(cfgOf({ serverMaxWindowBits: 9, clientMaxWindowBits: 8 })),
      'permessage-deflate; client_max_window_bits=8; server_max_window_bits=9',
    );
  });

  const configs = [
    DEDICATED,
    SHARED,
    cfgOf({ serverMaxWindowBits: 8 }),
    cfgOf({ clientMaxWindowBits: 9 }),
    cfgOf({ mode: 'shared', serverMaxWindowBits: 12, clientMaxWindowBits: 8 }),
  ];
  for (const clientCfg of configs) {
    for (const serverCfg of configs) {
      it(`client ${JSON.stringify(clientCfg)} ↔ server ${JSON.stringify(serverCfg)} agree`, () => {
        const negotiated = negotiateServer(clientOffer(clientCfg), serverCfg);
        assert.ok(negotiated);
        assert.deepEqual(acceptServerResponse(negotiated.response, clientCfg), negotiated.params);
      });
    }
  }

  it('reads every parameter of a valid response', () => {
    assert.deepEqual(
      acceptServerResponse(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
        DEDICATED,
      ),
      params({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 8,
      }),
    );
  });

  const failures: Array<[string, ResolvedCompression, RegExp]> = [
    ['permessage-deflate; a=', DEDICATED, /offset/],
    ['', DEDICATED, /empty/],
    ['x-foo', DEDICATED, /"x-foo" was not offered/],
    ['permessage-deflate, permessage-deflate', DEDICATED, /2 extensions/],
    ['permessage-deflate, x-foo', DEDICATED, /2 extensions/],
    ['permessage-deflate; foo', DEDICATED, /unknown parameter "foo"/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', DEDICATED, /duplicate/],
    ['permessage-deflate; client_no_context_takeover=1', DEDICATED, /must not have a value/],
    ['permessage-deflate; server_max_window_bits', DEDICATED, /server_max_window_bits must be an integer/],
    ['permessage-deflate; server_max_window_bits=16', DEDICATED, /server_max_window_bits must be an integer/],
    ['permessage-deflate; client_max_window_bits', DEDICATED, /client_max_window_bits must be an integer/],
    ['permessage-deflate; client_max_window_bits=7', DEDICATED, /client_max_window_bits must be an integer/],
    ['permessage-deflate; server_max_window_bits=010', DEDICATED, /server_max_window_bits must be an integer/],
    ['permessage-deflate; client_max_window_bits="09"', DEDICATED, /client_max_window_bits must be an integer/],
    ['permessage-deflate; client_max_window_bits=10', cfgOf({ clientMaxWindowBits: 9 }), /exceeds the offered 9/],
    ['permessage-deflate; server_max_window_bits=10', cfgOf({ serverMaxWindowBits: 9 }), /exceeds the requested 9/],
    ['permessage-deflate', cfgOf({ serverMaxWindowBits: 9 }), /server_max_window_bits was requested but is missing/],
    ['permessage-deflate', SHARED, /server_no_context_takeover was requested but is missing/],
  ];
  for (const [header, cfg, message] of failures) {
    it(`fails on ${JSON.stringify(header)}`, () => {
      assert.throws(
        () => acceptServerResponse(header, cfg),
        (err: unknown) => err instanceof HandshakeError && err.status === 101 && message.test(err.message),
      );
    });
  }

  it('keeps the offered client window when the server does not repeat it', async () => {
    assert.equal(acceptServerResponse('permessage-deflate', cfgOf({ clientMaxWindowBits: 9 })).clientMaxWindowBits, 9);
  });
});

/** Sends every message server→client and client→server over in-memory PerMessageDeflate pairs. */
async function roundTrip(p: DeflateParams, cfg: ResolvedCompression, messages: Buffer[]): Promise<void> {
  const server = new PerMessageDeflate(p, 'server', cfg);
  const client = new PerMessageDeflate(p, 'client', cfg);
  for (const msg of messages) {
    assert.deepEqual(client.decompress(await server.compress(msg), 1 << 20), msg);
    assert.deepEqual(server.decompress(await client.compress(msg), 1 << 20), msg);
  }
  assert.ok(server.retainedBytes <= retainedWindowBytes(p, 'server'));
  assert.ok(client.retainedBytes <= retainedWindowBytes(p, 'client'));
}

describe('PerMessageDeflate round trips (Autobahn 12.x/13.x)', () => {
  const messages = traffic(12);
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      for (const serverMaxWindowBits of [8, 9, 15]) {
        for (const clientMaxWindowBits of [8, 9, 15]) {
          const p = { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
          it(JSON.stringify(p), () => roundTrip(p, DEDICATED, messages));
        }
      }
    }
  }

  it('context takeover shrinks a repeated message; no context takeover does not', async () => {
    const msg = text(1000, prng(1));
    for (const noContext of [false, true]) {
      const pmd = new PerMessageDeflate(params({ serverNoContextTakeover: noContext }), 'server', DEDICATED);
      const first = (await pmd.compress(msg)).length;
      const second = (await pmd.compress(msg)).length;
      if (noContext) assert.equal(second, first);
      else assert.ok(second < 16, `repeat compressed to ${second} bytes`);
    }
  });

  it('an empty message compresses to 00 and inflates to empty, with and without a window', async () => {
    const pmd = new PerMessageDeflate(params(), 'server', DEDICATED);
    const peer = new PerMessageDeflate(params(), 'client', DEDICATED);
    assert.deepEqual(await pmd.compress(Buffer.alloc(0)), Buffer.from([0]));
    assert.deepEqual(peer.decompress(Buffer.from([0]), 0), Buffer.alloc(0));
    assert.deepEqual(peer.decompress(Buffer.alloc(0), 0), Buffer.alloc(0));
    peer.decompress(await pmd.compress(Buffer.from('hello hello hello')), 100);
    assert.deepEqual(peer.decompress(await pmd.compress(Buffer.alloc(0)), 0), Buffer.alloc(0));
    assert.equal(peer.decompress(await pmd.compress(Buffer.from('hello')), 100).toString(), 'hello');
  });

  it('a caller reusing its buffer after compress() does not corrupt the window', async () => {
    const server = new PerMessageDeflate(params(), 'server', DEDICATED);
    const client = new PerMessageDeflate(params(), 'client', DEDICATED);
    const buf = Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(4));
    const copy = Buffer.from(buf);
    assert.deepEqual(client.decompress(await server.compress(buf), 1000), copy);
    buf.fill(0x41);
    assert.deepEqual(client.decompress(await server.compress(copy), 1000), copy);
  });

  it('a message is accepted at exactly maxSize and refused one byte over', async () => {
    const msg = binary(5000, prng(5));
    const payload = await new PerMessageDeflate(params(), 'server', DEDICATED).compress(msg);
    assert.equal(new PerMessageDeflate(params(), 'client', DEDICATED).decompress(payload, 5000).length, 5000);
    const peer = new PerMessageDeflate(params(), 'client', DEDICATED);
    expectProtocolError(() => peer.decompress(payload, 4999), CloseCode.MessageTooBig);
    const shared = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'server', DEDICATED);
    const one = await shared.compressStateless(Buffer.from('a'));
    const fresh = new PerMessageDeflate(params(), 'client', DEDICATED);
    expectProtocolError(() => fresh.decompress(one, 0), CloseCode.MessageTooBig);
  });

  it('retains the documented number of bytes per connection', async () => {
    const big = binary(100_000, prng(7));
    for (const [mode, p] of [
      ['dedicated', params()],
      ['shared', params({ serverNoContextTakeover: true })],
      ['none', params({ serverNoContextTakeover: true, clientNoContextTakeover: true })],
    ] as const) {
      const server = new PerMessageDeflate(p, 'server', DEDICATED);
      const client = new PerMessageDeflate(p, 'client', DEDICATED);
      client.decompress(await server.compress(big), 1 << 20);
      server.decompress(await client.compress(big), 1 << 20);
      assert.equal(server.retainedBytes, RETAINED_BYTES_PER_CONNECTION[mode], mode);
      assert.equal(retainedWindowBytes(p, 'server'), RETAINED_BYTES_PER_CONNECTION[mode], mode);
    }
    assert.equal(retainedWindowBytes(params({ serverMaxWindowBits: 8, clientMaxWindowBits: 8 }), 'server'), 512 + 256);
  });
});

/** A long-lived zlib stream peer, as ws and browsers keep one: write, then Z_SYNC_FLUSH, collect the output. */
function streamPeer(stream: zlib.DeflateRaw | zlib.InflateRaw): (input: Buffer) => Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return (input) =>
    new Promise((resolve, reject) => {
      stream.once('error', reject);
      stream.write(input);
      stream.flush(SYNC, () => {
        stream.off('error', reject);
        resolve(Buffer.concat(chunks.splice(0)));
      });
    });
}

describe('interop with zlib streams (real context takeover), 60+ messages each way', () => {
  const rand = prng(99);
  const messages: Buffer[] = [];
  for (let k = 0; k < 64; k++) {
    const size = [16, 40, 200, 1000, 5000, 20_000, 70_000][k % 7] ?? 16;
    messages.push(k % 9 === 8 ? (messages[k - 3] ?? Buffer.alloc(0)) : k % 2 ? text(size, rand) : binary(size, rand));
  }
  for (const role of ['server', 'client'] as DeflateRole[]) {
    for (const bits of [8, 9, 15]) {
      for (const takeover of [true, false]) {
        it(`${role}, window bits ${bits}, context takeover ${takeover}`, async () => {
          const p = params({
            serverNoContextTakeover: !takeover,
            clientNoContextTakeover: !takeover,
            serverMaxWindowBits: bits,
            clientMaxWindowBits: bits,
          });
          const ours = new PerMessageDeflate(p, role, DEDICATED);
          // chunkSize 64 makes the peer strict: a reference farther back than its 2^bits window fails.
          const peerInflate = streamPeer(zlib.createInflateRaw({ windowBits: bits, chunkSize: 64 }));
          let peerDeflate = streamPeer(zlib.createDeflateRaw({ windowBits: Math.max(9, bits) }));
          for (const msg of messages) {
            const payload = await ours.compress(msg);
            assert.deepEqual(await peerInflate(Buffer.concat([payload, TAIL])), msg);
            if (!takeover) peerDeflate = streamPeer(zlib.createDeflateRaw({ windowBits: Math.max(9, bits) }));
            const fromPeer = await peerDeflate(msg);
            assert.deepEqual(fromPeer.subarray(-4), TAIL);
            assert.deepEqual(ours.decompress(fromPeer.subarray(0, -4), 1 << 20), msg);
          }
        });
      }
    }
  }

  it('a window-15 payload is rejected by the strict 8-bit peer (the check above has teeth)', async () => {
    const pattern = binary(400, prng(3));
    const msg = Buffer.concat([pattern, pattern, pattern]);
    const wide = await new PerMessageDeflate(params(), 'server', DEDICATED).compress(msg);
    const peer = streamPeer(zlib.createInflateRaw({ windowBits: 8, chunkSize: 64 }));
    await assert.rejects(peer(Buffer.concat([wide, TAIL])), /too far back/);
  });
});

/** One payload made without context by a shareable server connection with `bits` of window (the hub's path). */
async function compressShared(data: Buffer, cfg: ResolvedCompression, bits = cfg.serverMaxWindowBits): Promise<Buffer> {
  const server = new PerMessageDeflate(
    params({ serverNoContextTakeover: true, serverMaxWindowBits: bits }),
    'server',
    cfg,
  );
  return await server.compressStateless(data);
}

describe('compressStateless', () => {
  it('is readable by any no-context peer, including a strict 8-bit one', async () => {
    const msg = text(3000, prng(11));
    const cfg8 = cfgOf({ mode: 'shared', serverMaxWindowBits: 8 });
    const shared = await compressShared(msg, cfg8);
    assert.deepEqual(
      await streamPeer(zlib.createInflateRaw({ windowBits: 8, chunkSize: 64 }))(Buffer.concat([shared, TAIL])),
      msg,
    );
    for (const clientNoContextTakeover of [false, true]) {
      const client = new PerMessageDeflate(
        params({ serverNoContextTakeover: true, clientNoContextTakeover }),
        'client',
        SHARED,
      );
      assert.deepEqual(client.decompress(await compressShared(msg, SHARED), 1 << 20), msg);
      assert.deepEqual(client.decompress(shared, 1 << 20), msg);
    }
    const server = new PerMessageDeflate(
      params({ serverNoContextTakeover: true, serverMaxWindowBits: 9 }),
      'server',
      SHARED,
    );
    assert.equal(server.shareable, true);
    assert.equal(server.sendWindowBits, 9);
    assert.deepEqual(await server.compress(msg), await compressShared(msg, SHARED, 9));
    assert.deepEqual(await server.compressStateless(msg), await compressShared(msg, SHARED, 9));
    // On a context-takeover connection it would desynchronise the two windows, so it refuses.
    assert.throws(() => new PerMessageDeflate(params(), 'server', DEDICATED).compressStateless(msg), TypeError);
  });
});

describe('limits and corrupt input', () => {
  it('a ~1 KiB payload that inflates past 1 MiB throws 1009', async () => {
    const bomb = await compressShared(Buffer.alloc((1 << 20) + 64 * 1024), cfgOf({ level: 9 }));
    assert.ok(bomb.length < 1200, `bomb is ${bomb.length} bytes`);
    const peer = new PerMessageDeflate(params(), 'client', DEDICATED);
    expectProtocolError(() => peer.decompress(bomb, 1 << 20), CloseCode.MessageTooBig);
  });

  it('a 256 MiB bomb stops early: RSS grows < 64 MiB and the window stays empty', async () => {
    const deflater = zlib.createDeflateRaw({ level: 9 });
    const run = streamPeer(deflater);
    const zeros = Buffer.alloc(1 << 20);
    for (let k = 0; k < 255; k++) deflater.write(zeros);
    const bomb = (await run(zeros)).subarray(0, -4);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    // A failed message fails its connection, so each attempt is a fresh connection's.
    for (let k = 0; k < 10; k++) {
      const peer = new PerMessageDeflate(params(), 'server', DEDICATED);
      expectProtocolError(() => peer.decompress(bomb, 1 << 20), CloseCode.MessageTooBig);
      assert.ok(peer.retainedBytes <= 1 << 15, `${peer.retainedBytes} bytes retained`);
    }
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew ${grown} bytes`);
    assert.ok(performance.now() - started < 2000, 'each attempt stops after ~1 MiB of output');
  });

  it('corrupt deflate data throws 1007', () => {
    const peer = () => new PerMessageDeflate(params(), 'server', DEDICATED);
    expectProtocolError(() => peer().decompress(Buffer.from([0xff, 0xff, 0xff]), 1000), CloseCode.InvalidPayload);
    expectProtocolError(() => peer().decompress(Buffer.from([0x07]), 1000), CloseCode.InvalidPayload);
    const rand = prng(13);
    let corrupt = 0;
    for (let k = 0; k < 200; k++) {
      try {
        peer().decompress(binary(64, rand), 1 << 16);
      } catch (err) {
        assert.ok(err instanceof ProtocolError);
        assert.ok(err.closeCode === CloseCode.InvalidPayload || err.closeCode === CloseCode.MessageTooBig);
        corrupt++;
      }
    }
    assert.ok(corrupt > 100);
  });

  it('a reference into a window the receiver does not have throws 1007', async () => {
    const msg = text(2000, prng(17));
    const sender = new PerMessageDeflate(params(), 'client', DEDICATED);
    await sender.compress(msg);
    const payload = await sender.compress(msg);
    const fresh = new PerMessageDeflate(params(), 'server', DEDICATED);
    expectProtocolError(() => fresh.decompress(payload, 1 << 20), CloseCode.InvalidPayload);
  });

  it('rejects a negative or NaN maxSize', () => {
    const pmd = new PerMessageDeflate(params(), 'server', DEDICATED);
    assert.throws(() => pmd.decompress(Buffer.from([0]), -1), RangeError);
    assert.throws(() => pmd.decompress(Buffer.from([0]), Number.NaN), RangeError);
  });
});
