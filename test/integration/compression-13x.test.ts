// permessage-deflate negotiation over real sockets, Autobahn 13.x family (RFC 7692 §5, §7.1): every offer list the
// suite uses, the response checked against the offer, then 60 messages each way through zlib streams set up exactly
// per the agreement (the inflater's window is the agreed server_max_window_bits, so a wider server window fails).
import { DEFAULT_COMPRESSION_THRESHOLD } from '../../src/extensions/deflate-negotiation.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CompressionOption, WebSocketServer } from '../../src/index.js';
import { startTestDemo, useDemo } from '../helpers/demo.js';
import {
  type Agreement,
  autobahnOffer,
  binaryOfSize,
  DeflatePeer,
  type OfferSpec,
  offerHeader,
  prng,
  textOfSize,
} from '../helpers/deflate-peer.js';

/** Autobahn 13.1–13.7: (request server_no_context_takeover, requested server_max_window_bits; 0 = not requested). */
const FAMILIES: Array<[name: string, tuples: Array<[boolean, number]>]> = [
  ['13.1', [[false, 0]]],
  ['13.2', [[true, 0]]],
  ['13.3', [[false, 8]]],
  ['13.4', [[false, 15]]],
  ['13.5', [[true, 8]]],
  ['13.6', [[true, 15]]],
  [
    '13.7',
    [
      [true, 8],
      [true, 0],
      [false, 0],
    ],
  ],
  ['extra', [[false, 9]]],
  [
    'extra',
    [
      [false, 8],
      [true, 0],
      [false, 0],
    ],
  ],
  ['extra', [[true, 12]]],
];

const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 20, 3000];
const MESSAGES = 60;

interface ServerCase {
  name: string;
  compression: CompressionOption;
  /** The agreement the first acceptable offer must produce, or null when the server must decline it. */
  expect(offer: OfferSpec): Agreement | null;
}

function expected(
  offer: OfferSpec,
  cfg: { shared: boolean; serverBits: number; clientBits: number },
): Agreement | null {
  if (offer.clientMaxWindowBits === undefined && cfg.clientBits < 15) return null;
  return {
    serverNoContextTakeover: (offer.serverNoContextTakeover ?? false) || cfg.shared,
    clientNoContextTakeover: offer.clientNoContextTakeover ?? false,
    serverMaxWindowBits: Math.min(cfg.serverBits, offer.serverMaxWindowBits ?? 15),
    clientMaxWindowBits:
      offer.clientMaxWindowBits === undefined
        ? 15
        : Math.min(cfg.clientBits, offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits),
  };
}

const SERVERS: ServerCase[] = [
  {
    name: "demo /echo, 'dedicated'",
    compression: 'dedicated',
    expect: (o) => expected(o, { shared: false, serverBits: 15, clientBits: 15 }),
  },
  {
    name: "demo /echo, 'shared'",
    compression: 'shared',
    expect: (o) => expected(o, { shared: true, serverBits: 15, clientBits: 15 }),
  },
  {
    name: 'demo /echo, serverMaxWindowBits 10, clientMaxWindowBits 8',
    compression: { mode: 'dedicated', serverMaxWindowBits: 10, clientMaxWindowBits: 8 },
    expect: (o) => expected(o, { shared: false, serverBits: 10, clientBits: 8 }),
  },
];

async function traffic(peer: DeflatePeer, seed: number): Promise<void> {
  const rand = prng(seed);
  let previous: { data: Buffer; type: 'text' | 'binary' } | null = null;
  for (let i = 0; i < MESSAGES; i++) {
    const size = SIZES[i % SIZES.length]!;
    const fresh: 'text' | 'binary' = i % 2 === 0 ? 'binary' : 'text';
    // Every fifth message repeats the previous one: context takeover (where agreed) reaches into the last message.
    const msg: { data: Buffer; type: 'text' | 'binary' } =
      i % 5 === 4 && previous
        ? previous
        : { type: fresh, data: fresh === 'text' ? Buffer.from(textOfSize(size, rand)) : binaryOfSize(size, rand) };
    previous = msg;
    const { data, type } = msg;
    await peer.send(data, { type });
    const echo = await peer.expectEcho(data, type);
    assert.equal(
      echo.compressed,
      data.length >= DEFAULT_COMPRESSION_THRESHOLD,
      `message ${i} (${data.length} B): RSV1 ${echo.compressed}`,
    );
  }
}

for (const server of SERVERS) {
  describe(`Autobahn 13.x against ${server.name}`, () => {
    const demo = useDemo({ maxMessageSize: 16 * 1024 * 1024, compression: server.compression, shutdownTimeout: 1000 });

    let seed = 1300;
    for (const [family, tuples] of FAMILIES) {
      for (const autobahnAccepts of [true, false]) {
        const offers = tuples.map(([noContext, bits]) => autobahnOffer(noContext, bits, autobahnAccepts));
        const label = `${family} ${JSON.stringify(tuples)}${autobahnAccepts ? ' + client_no_context_takeover; client_max_window_bits' : ''}`;
        const mySeed = seed++;
        test(label, async (t) => {
          const peer = await DeflatePeer.open(demo.port, { offers });
          t.after(() => peer.close());
          // The first offer the server can accept wins (§5.1: in order of preference).
          const want = offers.map((o) => server.expect(o)).find((a) => a !== null) ?? null;
          assert.deepEqual(peer.agreement, want, `response: ${peer.extensionHeader ?? '(none)'}`);
          if (peer.agreement) await traffic(peer, mySeed);
          else {
            const data = Buffer.from(textOfSize(500, prng(mySeed)));
            await peer.send(data, { compress: false });
            assert.equal((await peer.expectEcho(data)).compressed, false);
          }
        });
      }
    }
  });
}

describe("offers with client_max_window_bits values, against the demo /echo ('dedicated')", () => {
  const demo = useDemo({ maxMessageSize: 16 * 1024 * 1024, compression: 'dedicated', shutdownTimeout: 1000 });

  const OFFERS: OfferSpec[][] = [
    [{ clientMaxWindowBits: 8 }],
    [{ clientMaxWindowBits: 11, serverMaxWindowBits: 9, clientNoContextTakeover: true }],
    [{ clientMaxWindowBits: 15, serverNoContextTakeover: true, serverMaxWindowBits: 12 }],
  ];
  for (const [i, offers] of OFFERS.entries()) {
    test(offerHeader(offers), async (t) => {
      const peer = await DeflatePeer.open(demo.port, { offers });
      t.after(() => peer.close());
      assert.deepEqual(peer.agreement, SERVERS[0]!.expect(offers[0]!), `response: ${peer.extensionHeader}`);
      await traffic(peer, 1400 + i);
    });
  }
});

describe('13.x offers the server must decline (§7: invalid offers are skipped, not failed)', () => {
  let wss: WebSocketServer;
  let port: number;
  before(async () => {
    wss = new WebSocketServer({ compression: 'dedicated', heartbeat: false });
    wss.on('connection', (conn) => conn.on('message', (m) => conn.send(m.data)));
    port = (await wss.listen(0)).port;
  });
  after(() => wss.close());

  for (const [header, accepted] of [
    ['permessage-deflate; server_max_window_bits=7', null],
    ['permessage-deflate; server_max_window_bits=16', null],
    ['permessage-deflate; server_max_window_bits', null],
    ['permessage-deflate; client_max_window_bits=0', null],
    ['permessage-deflate; server_no_context_takeover=1', null],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', null],
    ['permessage-deflate; foo', null],
    ['x-webkit-deflate-frame', null],
    ['permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=11', 11],
    ['permessage-deflate; bar=1, permessage-deflate', 15],
  ] as const) {
    test(`${header} → ${accepted === null ? 'declined' : `accepted with server_max_window_bits ${accepted}`}`, async (t) => {
      const peer = await DeflatePeer.open(port, { path: '/', offers: header });
      t.after(() => peer.close());
      if (accepted === null) {
        assert.equal(peer.extensionHeader, undefined);
        const data = Buffer.from('plain after a declined offer, long enough to be compressed');
        await peer.send(data, { compress: false });
        assert.equal((await peer.expectEcho(data)).compressed, false);
        // RSV1 is now a protocol error (RFC 7692 §6, RFC 6455 §5.2).
        await peer.raw.send({ opcode: 0x2, payload: Buffer.from([0x02, 0x00]), rsv: 4 });
        await peer.raw.expectClose(1002);
      } else {
        assert.equal(peer.agreement?.serverMaxWindowBits, accepted);
        await traffic(peer, accepted);
      }
    });
  }
});

describe('/broadcast: one publish, each peer inflating with the window it negotiated', () => {
  for (const mode of ['shared', 'dedicated'] as const) {
    test(`'${mode}': peers with server_max_window_bits 8, 10 and 15 get every message intact`, async (t) => {
      const demo = await startTestDemo({ maxMessageSize: 16 * 1024 * 1024, compression: mode, shutdownTimeout: 300 });
      const peers: DeflatePeer[] = [];
      t.after(async () => {
        for (const p of peers) p.close();
        await demo.close();
      });
      for (const bits of [8, 10, 0]) {
        const offer: OfferSpec = { clientMaxWindowBits: true };
        if (bits) offer.serverMaxWindowBits = bits;
        peers.push(await DeflatePeer.open(demo.port, { path: '/broadcast', offers: [offer] }));
      }
      assert.deepEqual(
        peers.map((p) => [p.agreement?.serverMaxWindowBits, p.agreement?.serverNoContextTakeover]),
        [
          [8, mode === 'shared'],
          [10, mode === 'shared'],
          [15, mode === 'shared'],
        ],
      );
      const rand = prng(77);
      const messages = SIZES.map((size, i) => (i % 2 ? Buffer.from(textOfSize(size, rand)) : binaryOfSize(size, rand)));
      for (const [i, data] of messages.entries()) await peers[i % 3]!.send(data, { type: i % 2 ? 'text' : 'binary' });
      for (const peer of peers) {
        for (const [i, data] of messages.entries()) {
          const msg = await peer.expectEcho(data, i % 2 ? 'text' : 'binary');
          assert.equal(msg.compressed, data.length >= DEFAULT_COMPRESSION_THRESHOLD);
        }
      }
    });
  }
});
