// Frame encoding (RFC 6455 §5.2, §5.3): header bytes per length class, FIN/RSV1 bits, masking, and a round trip
// through the parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Opcode } from '../../src/protocol/constants.js';
import {
  encodeFrame,
  encodeTextFrame,
  headerLength,
  nextMaskKey,
  writeHeader,
} from '../../src/protocol/frame-encoder.js';
import { FrameParser } from '../../src/protocol/frame-parser.js';
import { dataFrameEvents, feed, feedAllSplits, frame, type MakeParser, MASK_KEY } from '../helpers/frames.js';
import { pattern } from '../helpers/payloads.js';

const KEY = Uint8Array.from(MASK_KEY);

const serverParser: MakeParser = (sink) =>
  new FrameParser(sink, { expectMasked: true, allowRsv1: true, maxMessageSize: 1 << 24, maxFragments: 100 });
const clientParser: MakeParser = (sink) =>
  new FrameParser(sink, { expectMasked: false, allowRsv1: true, maxMessageSize: 1 << 24, maxFragments: 100 });

describe('headerLength', () => {
  it('is 2, 4 or 10 bytes by length class, plus 4 when masked', () => {
    const table: Array<[number, number]> = [
      [0, 2],
      [1, 2],
      [125, 2],
      [126, 4],
      [127, 4],
      [65535, 4],
      [65536, 10],
      [2 ** 32, 10],
    ];
    for (const [length, size] of table) {
      assert.equal(headerLength(length, false), size, `length ${length}`);
      assert.equal(headerLength(length, true), size + 4, `masked length ${length}`);
    }
  });
});

describe('encodeFrame: header bytes', () => {
  it('7-bit lengths: 0, 1, 125', () => {
    assert.equal(encodeFrame(Opcode.Text, Buffer.alloc(0), true, false, null).toString('hex'), '8100');
    assert.equal(encodeFrame(Opcode.Binary, Buffer.of(0xab), true, false, null).toString('hex'), '8201ab');
    const f = encodeFrame(Opcode.Binary, pattern(125), true, false, null);
    assert.equal(f.subarray(0, 2).toString('hex'), '827d');
    assert.ok(f.subarray(2).equals(pattern(125)));
  });

  it('16-bit lengths: 126, 127, 65535', () => {
    for (const [length, bytes] of [
      [126, '7e007e'],
      [127, '7e007f'],
      [65535, '7effff'],
    ] as const) {
      const f = encodeFrame(Opcode.Binary, pattern(length), true, false, null);
      assert.equal(f.length, 4 + length);
      assert.equal(f.subarray(0, 4).toString('hex'), `82${bytes}`);
      assert.ok(f.subarray(4).equals(pattern(length)));
    }
  });

  it('64-bit lengths: 65536', () => {
    const f = encodeFrame(Opcode.Binary, pattern(65536), true, false, null);
    assert.equal(f.length, 10 + 65536);
    assert.equal(f.subarray(0, 10).toString('hex'), '827f0000000000010000');
  });

  it('64-bit lengths above 2^32 (header only, through writeHeader)', () => {
    const out = Buffer.alloc(14);
    const size = writeHeader(out, 0, Opcode.Binary, 2 ** 32 + 5, true, false, KEY);
    assert.equal(size, 14);
    assert.equal(out.toString('hex'), `82ff0000000100000005${Buffer.from(KEY).toString('hex')}`);
    const out2 = Buffer.alloc(12, 0xee);
    assert.equal(writeHeader(out2, 2, Opcode.Text, 2 ** 40 + 2 ** 33 + 0x1234, false, true, null), 10);
    assert.equal(out2.toString('hex'), 'eeee417f000001020000' + '1234');
  });

  it('FIN, RSV1 and the opcode in the first byte', () => {
    const first = (opcode: number, fin: boolean, rsv1: boolean): number =>
      encodeFrame(opcode, Buffer.alloc(0), fin, rsv1, null)[0]!;
    assert.equal(first(Opcode.Text, true, false), 0x81);
    assert.equal(first(Opcode.Text, false, false), 0x01);
    assert.equal(first(Opcode.Text, true, true), 0xc1);
    assert.equal(first(Opcode.Binary, false, true), 0x42);
    assert.equal(first(Opcode.Continuation, true, false), 0x80);
    assert.equal(first(Opcode.Continuation, false, false), 0x00);
    assert.equal(first(Opcode.Close, true, false), 0x88);
    assert.equal(first(Opcode.Ping, true, false), 0x89);
    assert.equal(first(Opcode.Pong, true, false), 0x8a);
  });

  it('masked frames carry the MASK bit, the key, and the masked payload (RFC 6455 §5.7)', () => {
    assert.equal(
      encodeFrame(Opcode.Text, Buffer.from('Hello'), true, false, KEY).toString('hex'),
      '818537fa213d7f9f4d5158',
    );
    for (const length of [0, 1, 125, 126, 65535, 65536]) {
      const payload = pattern(length, 5);
      const got = encodeFrame(Opcode.Binary, payload, true, false, KEY);
      assert.ok(got.equals(frame({ opcode: Opcode.Binary, payload, mask: KEY })), `length ${length}`);
      assert.ok(payload.equals(pattern(length, 5)), 'the payload is not masked in place');
    }
  });

  it('writeHeader writes at an offset and leaves the rest alone', () => {
    const out = Buffer.alloc(20, 0xee);
    const size = writeHeader(out, 3, Opcode.Ping, 300, true, false, KEY);
    assert.equal(size, 8);
    assert.equal(out.toString('hex'), `eeeeee89fe012c${Buffer.from(KEY).toString('hex')}${'ee'.repeat(9)}`);
    assert.equal(out[3], 0x89);
    assert.equal(out[4], 0x80 | 126);
  });
});

describe('encodeFrame: round trip through the parser', () => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536]) {
    it(`a masked ${length}-byte frame decodes back with expectMasked (server side)`, () => {
      const payload = pattern(length, 11);
      const bytes = encodeFrame(Opcode.Binary, payload, true, false, nextMaskKey());
      const options = length > 4096 ? { everyIndexLimit: 0, edge: 16 } : {};
      assert.deepEqual(feedAllSplits(bytes, serverParser, options), dataFrameEvents(Opcode.Binary, payload));
    });

    it(`an unmasked ${length}-byte frame decodes back with expectMasked false (client side)`, () => {
      const payload = pattern(length, 12);
      const bytes = encodeFrame(Opcode.Text, payload, true, false, null);
      assert.deepEqual(feed([bytes], clientParser), dataFrameEvents(Opcode.Text, payload));
    });
  }

  it('a fragmented compressed-flag message round-trips with FIN and RSV1 preserved', () => {
    const bytes = Buffer.concat([
      encodeFrame(Opcode.Text, Buffer.from('ab'), false, true, KEY),
      encodeFrame(Opcode.Continuation, Buffer.from('cd'), false, false, KEY),
      encodeFrame(Opcode.Continuation, Buffer.from('ef'), true, false, KEY),
    ]);
    assert.deepEqual(feedAllSplits(bytes, serverParser), [
      ...dataFrameEvents(Opcode.Text, Buffer.from('ab'), false, true),
      ...dataFrameEvents(Opcode.Continuation, Buffer.from('cd'), false, false),
      ...dataFrameEvents(Opcode.Continuation, Buffer.from('ef'), true, false),
    ]);
  });
});

describe('encodeTextFrame', () => {
  const texts = [
    '',
    'a',
    'Hello',
    'κόσμε',
    '😀🚀',
    'x'.repeat(125),
    'é'.repeat(63),
    'ü'.repeat(40_000),
    'y'.repeat(70_000),
  ];
  for (const text of texts) {
    it(`equals encodeFrame(Text, Buffer.from(text)) for a ${Buffer.byteLength(text)}-byte text`, () => {
      const bytes = Buffer.from(text);
      for (const fin of [true, false]) {
        assert.ok(
          encodeTextFrame(text, bytes.length, fin, null).equals(encodeFrame(Opcode.Text, bytes, fin, false, null)),
        );
        assert.ok(
          encodeTextFrame(text, bytes.length, fin, KEY).equals(encodeFrame(Opcode.Text, bytes, fin, false, KEY)),
        );
      }
    });
  }

  it('decodes back through the server parser', () => {
    const text = 'Grüße, κόσμε 😀';
    const bytes = encodeTextFrame(text, Buffer.byteLength(text), true, nextMaskKey());
    assert.deepEqual(feedAllSplits(bytes, serverParser), dataFrameEvents(Opcode.Text, Buffer.from(text)));
  });
});

describe('nextMaskKey', () => {
  it('returns distinct 4-byte keys across pool refills, each stable after later calls', () => {
    const keys: Buffer[] = [];
    const copies: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const k = nextMaskKey();
      assert.equal(k.length, 4);
      keys.push(k);
      copies.push(k.toString('hex'));
    }
    assert.deepEqual(
      keys.map((k) => k.toString('hex')),
      copies,
      'a key handed out is never overwritten',
    );
    assert.ok(new Set(copies).size > 2900, 'keys are random');
  });
});
