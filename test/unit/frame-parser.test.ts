// The incremental frame parser (RFC 6455 §5.2–§5.5) fed crafted bytes whole, at every split point and byte by byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode, Opcode } from '../../src/protocol/constants.js';
import { FrameParser, type FrameParserOptions } from '../../src/protocol/frame-parser.js';
import {
  dataFrameEvents,
  feed,
  feedAllSplits,
  frame,
  type FrameSpec,
  hex,
  type MakeParser,
  MASK_KEY,
  type ParserEvent,
  RecordingSink,
} from '../helpers/frames.js';
import { pattern } from '../helpers/payloads.js';

const BIG = 1 << 20;

function parserFor(options: Partial<FrameParserOptions> = {}): MakeParser {
  return (sink) =>
    new FrameParser(sink, {
      expectMasked: true,
      allowRsv1: false,
      maxMessageSize: BIG,
      maxFragments: 1000,
      ...options,
    });
}

/** A server (expects masked client frames) and a client (expects unmasked server frames). */
const SIDES = [
  { name: 'server, masked client frames', expectMasked: true },
  { name: 'client, unmasked server frames', expectMasked: false },
] as const;

/** Frames as the given side expects to receive them: masked for a server, unmasked for a client. */
function framesFor(expectMasked: boolean, specs: FrameSpec[]): Buffer {
  return Buffer.concat(specs.map((s) => frame({ ...s, mask: expectMasked ? MASK_KEY : null })));
}

const error = (closeCode: number): ParserEvent => ({ type: 'error', closeCode });
const control = (opcode: number, payload: Uint8Array | string = ''): ParserEvent => ({
  type: 'control',
  opcode,
  payload: Buffer.from(payload),
});

describe('FrameParser: payload lengths (§5.2)', () => {
  for (const side of SIDES) {
    describe(side.name, () => {
      const make = parserFor({ expectMasked: side.expectMasked });
      for (const length of [0, 1, 125, 126, 127, 65535, 65536]) {
        it(`decodes a ${length}-byte binary frame at every split`, () => {
          const payload = pattern(length, length);
          const bytes = framesFor(side.expectMasked, [{ opcode: Opcode.Binary, payload }]);
          const headerSize = (length < 126 ? 2 : length <= 0xffff ? 4 : 10) + (side.expectMasked ? 4 : 0);
          assert.equal(bytes.length, headerSize + length);
          assert.deepEqual(feedAllSplits(bytes, make), dataFrameEvents(Opcode.Binary, payload));
        });
      }

      it('decodes a text frame and a following frame in the same chunk', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: 'Hello' },
          { opcode: Opcode.Binary, payload: hex('00 ff 80') },
        ]);
        assert.deepEqual(feedAllSplits(bytes, make), [
          ...dataFrameEvents(Opcode.Text, Buffer.from('Hello')),
          ...dataFrameEvents(Opcode.Binary, hex('00 ff 80')),
        ]);
      });

      it('accepts a 64-bit length whose value fits in 16 bits (non-minimal form)', () => {
        const bytes = framesFor(side.expectMasked, [{ opcode: Opcode.Binary, payload: 'abc', lengthForm: 64 }]);
        assert.deepEqual(feedAllSplits(bytes, make), dataFrameEvents(Opcode.Binary, Buffer.from('abc')));
      });

      it('fails a 64-bit length with its most significant bit set with 1002, before any payload', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Binary, length: 0x8000_0000_0000_0001n, lengthForm: 64 },
        ]);
        assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
      });

      it('fails a 64-bit length far above the limit with 1009 at the header', () => {
        const bytes = framesFor(side.expectMasked, [{ opcode: Opcode.Text, length: 0x7fff_ffff_ffff_ffffn }]);
        assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.MessageTooBig)]);
      });
    });
  }

  it('streams payload pieces as they arrive rather than buffering the frame', () => {
    const payload = pattern(1000);
    const bytes = frame({ opcode: Opcode.Binary, payload, mask: MASK_KEY });
    const sink = new RecordingSink();
    const parser = parserFor()(sink);
    parser.push(bytes.subarray(0, 10));
    // 8 header bytes and 2 payload bytes: the frame has begun and its first piece went out at once.
    assert.deepEqual(sink.events, [{ type: 'frame', opcode: Opcode.Binary, fin: true, rsv1: false, length: 1000 }]);
    assert.equal(sink.dataCalls, 1);
    parser.push(bytes.subarray(10, 500));
    parser.push(bytes.subarray(500));
    assert.equal(sink.dataCalls, 3);
    assert.deepEqual(sink.snapshot(), dataFrameEvents(Opcode.Binary, payload));
  });
});

describe('FrameParser: masking (§5.1, §5.3)', () => {
  it('a server fails an unmasked client frame with 1002', () => {
    const bytes = frame({ opcode: Opcode.Text, payload: 'hi' });
    assert.deepEqual(feedAllSplits(bytes, parserFor({ expectMasked: true })), [error(CloseCode.ProtocolError)]);
  });

  it('a server fails an unmasked control frame with 1002', () => {
    const bytes = frame({ opcode: Opcode.Ping });
    assert.deepEqual(feedAllSplits(bytes, parserFor({ expectMasked: true })), [error(CloseCode.ProtocolError)]);
  });

  it('a client fails a masked server frame with 1002', () => {
    const bytes = frame({ opcode: Opcode.Text, payload: 'hi', mask: MASK_KEY });
    assert.deepEqual(feedAllSplits(bytes, parserFor({ expectMasked: false })), [error(CloseCode.ProtocolError)]);
  });

  it('a server fails when the second frame of a message arrives unmasked', () => {
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Text, payload: 'ab', fin: false, mask: MASK_KEY }),
      frame({ opcode: Opcode.Continuation, payload: 'cd' }),
    ]);
    assert.deepEqual(feedAllSplits(bytes, parserFor()), [
      ...dataFrameEvents(Opcode.Text, Buffer.from('ab'), false),
      error(CloseCode.ProtocolError),
    ]);
  });

  it('decodes the RFC 6455 §5.7 examples', () => {
    const client = parserFor({ expectMasked: false });
    const server = parserFor({ expectMasked: true });
    const hello = Buffer.from('Hello');
    assert.deepEqual(feedAllSplits(hex('81 05 48 65 6c 6c 6f'), client), dataFrameEvents(Opcode.Text, hello));
    assert.deepEqual(
      feedAllSplits(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), server),
      dataFrameEvents(Opcode.Text, hello),
    );
    assert.deepEqual(feedAllSplits(hex('01 03 48 65 6c | 80 02 6c 6f'), client), [
      ...dataFrameEvents(Opcode.Text, Buffer.from('Hel'), false),
      ...dataFrameEvents(Opcode.Continuation, Buffer.from('lo'), true),
    ]);
    assert.deepEqual(feedAllSplits(hex('89 05 48 65 6c 6c 6f'), client), [control(Opcode.Ping, 'Hello')]);
    assert.deepEqual(feedAllSplits(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'), server), [control(Opcode.Pong, 'Hello')]);
    const big = feedAllSplits(Buffer.concat([hex('82 7e 01 00'), pattern(256)]), client);
    assert.deepEqual(big, dataFrameEvents(Opcode.Binary, pattern(256)));
  });
});

describe('FrameParser: reserved bits (§5.2, RFC 7692 §6)', () => {
  for (const side of SIDES) {
    describe(side.name, () => {
      for (const bit of ['rsv1', 'rsv2', 'rsv3'] as const) {
        for (const opcode of [Opcode.Text, Opcode.Binary, Opcode.Ping, Opcode.Close]) {
          it(`fails ${bit.toUpperCase()} on opcode ${opcode} without an extension with 1002`, () => {
            const bytes = framesFor(side.expectMasked, [{ opcode, payload: 'x', [bit]: true }]);
            const make = parserFor({ expectMasked: side.expectMasked });
            assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
          });
        }
      }

      const deflate = parserFor({ expectMasked: side.expectMasked, allowRsv1: true });

      it('allows RSV1 on the first frame of a message when permessage-deflate is on', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: 'ab', rsv1: true, fin: false },
          { opcode: Opcode.Continuation, payload: 'cd' },
          { opcode: Opcode.Binary, payload: 'ef', rsv1: true },
        ]);
        assert.deepEqual(feedAllSplits(bytes, deflate), [
          ...dataFrameEvents(Opcode.Text, Buffer.from('ab'), false, true),
          ...dataFrameEvents(Opcode.Continuation, Buffer.from('cd'), true, false),
          ...dataFrameEvents(Opcode.Binary, Buffer.from('ef'), true, true),
        ]);
      });

      it('fails RSV1 on a continuation frame with 1002 even when permessage-deflate is on', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: 'ab', rsv1: true, fin: false },
          { opcode: Opcode.Continuation, payload: 'cd', rsv1: true },
        ]);
        assert.deepEqual(feedAllSplits(bytes, deflate), [
          ...dataFrameEvents(Opcode.Text, Buffer.from('ab'), false, true),
          error(CloseCode.ProtocolError),
        ]);
      });

      for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
        it(`fails RSV1 on control opcode ${opcode} with 1002 even when permessage-deflate is on`, () => {
          const bytes = framesFor(side.expectMasked, [{ opcode, payload: '', rsv1: true }]);
          assert.deepEqual(feedAllSplits(bytes, deflate), [error(CloseCode.ProtocolError)]);
        });
      }

      it('fails RSV2 and RSV3 with 1002 even when permessage-deflate is on', () => {
        for (const bit of ['rsv2', 'rsv3'] as const) {
          const bytes = framesFor(side.expectMasked, [
            { opcode: Opcode.Binary, payload: 'x', rsv1: true, [bit]: true },
          ]);
          assert.deepEqual(feedAllSplits(bytes, deflate), [error(CloseCode.ProtocolError)]);
        }
      });
    });
  }
});

describe('FrameParser: opcodes (§5.2)', () => {
  for (const side of SIDES) {
    describe(side.name, () => {
      const make = parserFor({ expectMasked: side.expectMasked });
      for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
        it(`fails reserved opcode 0x${opcode.toString(16)} with 1002`, () => {
          for (const fin of [true, false]) {
            for (const payload of ['', 'payload']) {
              const bytes = framesFor(side.expectMasked, [{ opcode, payload, fin }]);
              assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
            }
          }
        });
      }

      it('fails a reserved opcode inside a fragmented message with 1002', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: 'a', fin: false },
          { opcode: 0x3, payload: 'b' },
        ]);
        assert.deepEqual(feedAllSplits(bytes, make), [
          ...dataFrameEvents(Opcode.Text, Buffer.from('a'), false),
          error(CloseCode.ProtocolError),
        ]);
      });
    });
  }
});

describe('FrameParser: control frames (§5.5)', () => {
  for (const side of SIDES) {
    describe(side.name, () => {
      const make = parserFor({ expectMasked: side.expectMasked });

      for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
        it(`accepts opcode ${opcode} with 0 and 125 payload bytes`, () => {
          const payload = pattern(125, opcode);
          const bytes = framesFor(side.expectMasked, [
            { opcode, payload: '' },
            { opcode, payload },
          ]);
          assert.deepEqual(feedAllSplits(bytes, make), [control(opcode), control(opcode, payload)]);
        });

        it(`fails opcode ${opcode} with 126 payload bytes with 1002, at the header`, () => {
          const bytes = framesFor(side.expectMasked, [{ opcode, payload: pattern(126) }]);
          assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
          const headerOnly = bytes.subarray(0, 4 + (side.expectMasked ? 4 : 0));
          assert.deepEqual(feed([headerOnly], make), [error(CloseCode.ProtocolError)]);
        });

        it(`fails a fragmented opcode ${opcode} (FIN clear) with 1002`, () => {
          const bytes = framesFor(side.expectMasked, [
            { opcode, payload: 'ab', fin: false },
            { opcode: Opcode.Continuation, payload: 'cd' },
          ]);
          assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
        });
      }

      it('fails a 64-bit encoded control length above 125 with 1002', () => {
        const bytes = framesFor(side.expectMasked, [{ opcode: Opcode.Ping, length: 0x1_0000_0000n, lengthForm: 64 }]);
        assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
      });

      it('delivers pings and pongs interleaved between the fragments of a message', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: 'frag1', fin: false },
          { opcode: Opcode.Ping, payload: 'p1' },
          { opcode: Opcode.Continuation, payload: 'frag2', fin: false },
          { opcode: Opcode.Pong, payload: '' },
          { opcode: Opcode.Ping, payload: 'p2' },
          { opcode: Opcode.Continuation, payload: 'frag3', fin: true },
          { opcode: Opcode.Close, payload: hex('03 e8') },
        ]);
        assert.deepEqual(feedAllSplits(bytes, make), [
          ...dataFrameEvents(Opcode.Text, Buffer.from('frag1'), false),
          control(Opcode.Ping, 'p1'),
          ...dataFrameEvents(Opcode.Continuation, Buffer.from('frag2'), false),
          control(Opcode.Pong),
          control(Opcode.Ping, 'p2'),
          ...dataFrameEvents(Opcode.Continuation, Buffer.from('frag3'), true),
          control(Opcode.Close, hex('03 e8')),
        ]);
      });

      it('hands out a control payload that later input does not overwrite', () => {
        const sink = new RecordingSink();
        const payloads: Buffer[] = [];
        const parser = make(
          Object.assign(sink, {
            onControl(opcode: number, payload: Buffer) {
              payloads.push(payload);
              RecordingSink.prototype.onControl.call(sink, opcode, payload);
            },
          }),
        );
        parser.push(framesFor(side.expectMasked, [{ opcode: Opcode.Ping, payload: 'first' }]));
        parser.push(framesFor(side.expectMasked, [{ opcode: Opcode.Ping, payload: 'other' }]));
        assert.deepEqual(payloads.map(String), ['first', 'other']);
      });
    });
  }
});

describe('FrameParser: fragmentation (§5.4)', () => {
  for (const side of SIDES) {
    describe(side.name, () => {
      const make = parserFor({ expectMasked: side.expectMasked });

      it('fails a continuation frame without a started message with 1002', () => {
        for (const fin of [true, false]) {
          const bytes = framesFor(side.expectMasked, [{ opcode: Opcode.Continuation, payload: 'x', fin }]);
          assert.deepEqual(feedAllSplits(bytes, make), [error(CloseCode.ProtocolError)]);
        }
      });

      it('fails a continuation frame after a message has finished with 1002', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: 'a', fin: false },
          { opcode: Opcode.Continuation, payload: 'b', fin: true },
          { opcode: Opcode.Continuation, payload: 'c', fin: true },
        ]);
        assert.deepEqual(feedAllSplits(bytes, make), [
          ...dataFrameEvents(Opcode.Text, Buffer.from('a'), false),
          ...dataFrameEvents(Opcode.Continuation, Buffer.from('b'), true),
          error(CloseCode.ProtocolError),
        ]);
      });

      for (const opcode of [Opcode.Text, Opcode.Binary]) {
        it(`fails a new opcode ${opcode} frame inside a fragmented message with 1002`, () => {
          const bytes = framesFor(side.expectMasked, [
            { opcode: Opcode.Binary, payload: 'a', fin: false },
            { opcode, payload: 'b', fin: true },
          ]);
          assert.deepEqual(feedAllSplits(bytes, make), [
            ...dataFrameEvents(Opcode.Binary, Buffer.from('a'), false),
            error(CloseCode.ProtocolError),
          ]);
        });
      }

      it('handles zero-length fragments at the start, middle and end', () => {
        const bytes = framesFor(side.expectMasked, [
          { opcode: Opcode.Text, payload: '', fin: false },
          { opcode: Opcode.Continuation, payload: 'ab', fin: false },
          { opcode: Opcode.Continuation, payload: '', fin: false },
          { opcode: Opcode.Continuation, payload: 'c', fin: false },
          { opcode: Opcode.Continuation, payload: '', fin: true },
          { opcode: Opcode.Text, payload: '' },
        ]);
        assert.deepEqual(feedAllSplits(bytes, make), [
          ...dataFrameEvents(Opcode.Text, Buffer.alloc(0), false),
          ...dataFrameEvents(Opcode.Continuation, Buffer.from('ab'), false),
          ...dataFrameEvents(Opcode.Continuation, Buffer.alloc(0), false),
          ...dataFrameEvents(Opcode.Continuation, Buffer.from('c'), false),
          ...dataFrameEvents(Opcode.Continuation, Buffer.alloc(0), true),
          ...dataFrameEvents(Opcode.Text, Buffer.alloc(0), true),
        ]);
      });

      it('handles a message in many fragments, then a new message', () => {
        const specs: FrameSpec[] = [];
        const expected: ParserEvent[] = [];
        const count = 300;
        for (let i = 0; i < count; i++) {
          const payload = pattern(i % 7, i);
          const opcode = i === 0 ? Opcode.Binary : Opcode.Continuation;
          const fin = i === count - 1;
          specs.push({ opcode, payload, fin });
          expected.push(...dataFrameEvents(opcode, payload, fin));
        }
        specs.push({ opcode: Opcode.Text, payload: 'next' });
        expected.push(...dataFrameEvents(Opcode.Text, Buffer.from('next')));
        const bytes = framesFor(side.expectMasked, specs);
        assert.deepEqual(feedAllSplits(bytes, make), expected);
      });
    });
  }
});

describe('FrameParser: limits (1009)', () => {
  const limited = parserFor({ maxMessageSize: 100, maxFragments: 4 });

  it('accepts a single frame of exactly maxMessageSize bytes', () => {
    const payload = pattern(100);
    const bytes = frame({ opcode: Opcode.Binary, payload, mask: MASK_KEY });
    assert.deepEqual(feedAllSplits(bytes, limited), dataFrameEvents(Opcode.Binary, payload));
  });

  it('fails a single frame over maxMessageSize at its header, before the payload arrives', () => {
    const bytes = frame({ opcode: Opcode.Binary, payload: pattern(101), mask: MASK_KEY });
    assert.deepEqual(feedAllSplits(bytes, limited), [error(CloseCode.MessageTooBig)]);
    // Only the 2 + 4 header bytes: the verdict does not wait for the payload.
    assert.deepEqual(feed([bytes.subarray(0, 6)], limited), [error(CloseCode.MessageTooBig)]);
    // A 16-bit length header alone.
    const sixteen = frame({ opcode: Opcode.Text, length: 60_000, mask: MASK_KEY });
    assert.deepEqual(feedAllSplits(sixteen, limited), [error(CloseCode.MessageTooBig)]);
  });

  it('fails when the sum of fragments exceeds maxMessageSize, at the offending header', () => {
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Text, payload: pattern(60), fin: false, mask: MASK_KEY }),
      frame({ opcode: Opcode.Continuation, payload: pattern(40), fin: false, mask: MASK_KEY }),
      frame({ opcode: Opcode.Continuation, payload: pattern(1), fin: true, mask: MASK_KEY }),
    ]);
    assert.deepEqual(feedAllSplits(bytes, limited), [
      ...dataFrameEvents(Opcode.Text, pattern(60), false),
      ...dataFrameEvents(Opcode.Continuation, pattern(40), false),
      error(CloseCode.MessageTooBig),
    ]);
  });

  it('counts the limit per message, not per connection', () => {
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Text, payload: pattern(60), fin: false, mask: MASK_KEY }),
      frame({ opcode: Opcode.Continuation, payload: pattern(40), fin: true, mask: MASK_KEY }),
      frame({ opcode: Opcode.Binary, payload: pattern(100), mask: MASK_KEY }),
    ]);
    assert.deepEqual(feedAllSplits(bytes, limited), [
      ...dataFrameEvents(Opcode.Text, pattern(60), false),
      ...dataFrameEvents(Opcode.Continuation, pattern(40), true),
      ...dataFrameEvents(Opcode.Binary, pattern(100)),
    ]);
  });

  it('does not count control frames toward the message size or fragment count', () => {
    const specs: Buffer[] = [frame({ opcode: Opcode.Text, payload: pattern(50), fin: false, mask: MASK_KEY })];
    for (let i = 0; i < 6; i++) specs.push(frame({ opcode: Opcode.Ping, payload: pattern(125), mask: MASK_KEY }));
    specs.push(frame({ opcode: Opcode.Continuation, payload: pattern(50), fin: true, mask: MASK_KEY }));
    const events = feed([Buffer.concat(specs)], limited);
    assert.equal(
      events.some((e) => e.type === 'error'),
      false,
    );
    assert.equal(events.filter((e) => e.type === 'control').length, 6);
  });

  it('accepts maxFragments fragments and fails the next one with 1009', () => {
    const make = (n: number): Buffer =>
      Buffer.concat(
        Array.from({ length: n }, (_, i) =>
          frame({
            opcode: i === 0 ? Opcode.Binary : Opcode.Continuation,
            payload: 'x',
            fin: i === n - 1,
            mask: MASK_KEY,
          }),
        ),
      );
    const ok = feedAllSplits(make(4), limited);
    assert.equal(ok.filter((e) => e.type === 'frameEnd').length, 4);
    assert.equal(
      ok.some((e) => e.type === 'error'),
      false,
    );
    const tooMany = feedAllSplits(make(5), limited);
    assert.equal(tooMany.filter((e) => e.type === 'frameEnd').length, 4);
    assert.deepEqual(tooMany.at(-1), error(CloseCode.MessageTooBig));
    // Zero-length fragments count too: they cost a header each.
    const empties = Buffer.concat([
      frame({ opcode: Opcode.Text, fin: false, mask: MASK_KEY }),
      ...Array.from({ length: 4 }, () => frame({ opcode: Opcode.Continuation, fin: false, mask: MASK_KEY })),
    ]);
    assert.deepEqual(feedAllSplits(empties, limited).at(-1), error(CloseCode.MessageTooBig));
  });

  it('gives compressed (RSV1) messages slack for deflate overhead, and no more', () => {
    const max = 1000;
    const slack = max + (max >>> 7) + 1024;
    const make = parserFor({ maxMessageSize: max, allowRsv1: true });
    const at = (length: number, rsv1: boolean): ParserEvent[] =>
      feed([frame({ opcode: Opcode.Binary, rsv1, length, mask: MASK_KEY })], make);
    assert.deepEqual(at(slack, true), [{ type: 'frame', opcode: Opcode.Binary, fin: true, rsv1: true, length: slack }]);
    assert.deepEqual(at(slack + 1, true), [error(CloseCode.MessageTooBig)]);
    assert.deepEqual(at(max + 1, false), [error(CloseCode.MessageTooBig)]);
  });
});

describe('FrameParser: after an error or stop()', () => {
  it('emits nothing more after an error, even when valid frames follow', () => {
    const sink = new RecordingSink();
    const parser = parserFor()(sink);
    parser.push(frame({ opcode: Opcode.Text, payload: 'ok', mask: MASK_KEY }));
    parser.push(
      Buffer.concat([frame({ opcode: 0x3, mask: MASK_KEY }), frame({ opcode: Opcode.Ping, mask: MASK_KEY })]),
    );
    assert.equal(parser.failed, true);
    parser.push(frame({ opcode: Opcode.Text, payload: 'more', mask: MASK_KEY }));
    parser.push(frame({ opcode: Opcode.Close, payload: hex('03 e8'), mask: MASK_KEY }));
    assert.deepEqual(sink.snapshot(), [
      ...dataFrameEvents(Opcode.Text, Buffer.from('ok')),
      error(CloseCode.ProtocolError),
    ]);
    assert.equal(sink.messages.length, 1);
  });

  it('stop() mid-payload: no further data, frame end or frames', () => {
    const sink = new RecordingSink();
    const parser = parserFor()(sink);
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Binary, payload: pattern(20), mask: MASK_KEY }),
      frame({ opcode: Opcode.Ping, payload: 'p', mask: MASK_KEY }),
    ]);
    parser.push(bytes.subarray(0, 16));
    parser.stop();
    assert.equal(parser.failed, true);
    parser.push(bytes.subarray(16));
    parser.push(frame({ opcode: Opcode.Text, payload: 'x', mask: MASK_KEY }));
    assert.deepEqual(sink.snapshot(), [
      { type: 'frame', opcode: Opcode.Binary, fin: true, rsv1: false, length: 20 },
      { type: 'data', data: pattern(20).subarray(0, 10) },
    ]);
  });

  it('stop() from inside onControl (after a close frame) drops the rest of the same chunk', () => {
    const sink = new RecordingSink();
    let parser: FrameParser | undefined;
    const original = sink.onControl.bind(sink);
    sink.onControl = (opcode, payload) => {
      original(opcode, payload);
      if (opcode === Opcode.Close) parser?.stop();
    };
    parser = parserFor()(sink);
    parser.push(
      Buffer.concat([
        frame({ opcode: Opcode.Close, payload: hex('03 e8'), mask: MASK_KEY }),
        frame({ opcode: Opcode.Text, payload: 'after close', mask: MASK_KEY }),
        frame({ opcode: 0x3, mask: MASK_KEY }),
      ]),
    );
    assert.deepEqual(sink.snapshot(), [control(Opcode.Close, hex('03 e8'))]);
  });

  it('stop() from inside onData ends the frame there', () => {
    const sink = new RecordingSink();
    let parser: FrameParser | undefined;
    const original = sink.onData.bind(sink);
    sink.onData = (chunk) => {
      original(chunk);
      parser?.stop();
    };
    parser = parserFor()(sink);
    const bytes = Buffer.concat([
      frame({ opcode: Opcode.Binary, payload: 'abc', mask: MASK_KEY }),
      frame({ opcode: Opcode.Binary, payload: 'def', mask: MASK_KEY }),
    ]);
    parser.push(bytes);
    assert.deepEqual(sink.snapshot(), [
      { type: 'frame', opcode: Opcode.Binary, fin: true, rsv1: false, length: 3 },
      { type: 'data', data: Buffer.from('abc') },
    ]);
  });

  it('stop() from inside onDataFrame: no frame end follows, for empty and non-empty frames', () => {
    for (const payload of ['', 'abc']) {
      const sink = new RecordingSink();
      let parser: FrameParser | undefined;
      const original = sink.onDataFrame.bind(sink);
      sink.onDataFrame = (opcode, fin, rsv1, length) => {
        original(opcode, fin, rsv1, length);
        parser?.stop();
      };
      parser = parserFor()(sink);
      parser.push(
        Buffer.concat([
          frame({ opcode: Opcode.Text, payload, mask: MASK_KEY }),
          frame({ opcode: Opcode.Ping, mask: MASK_KEY }),
        ]),
      );
      assert.deepEqual(
        sink.snapshot(),
        [{ type: 'frame', opcode: Opcode.Text, fin: true, rsv1: false, length: payload.length }],
        `payload ${JSON.stringify(payload)}`,
      );
    }
  });

  it('ignores empty chunks', () => {
    const sink = new RecordingSink();
    const parser = parserFor()(sink);
    parser.push(Buffer.alloc(0));
    const bytes = frame({ opcode: Opcode.Text, payload: 'hi', mask: MASK_KEY });
    for (const b of bytes) {
      parser.push(Buffer.alloc(0));
      parser.push(Buffer.of(b));
    }
    assert.deepEqual(sink.snapshot(), dataFrameEvents(Opcode.Text, Buffer.from('hi')));
  });
});

describe('FrameParser: bounded work per call, and halting between frames', () => {
  const make = parserFor();
  const many = (n: number): Buffer =>
    framesFor(
      true,
      Array.from({ length: n }, (_, i) => ({ opcode: Opcode.Text, payload: String(i % 10) })),
    );

  it('push() parses at most maxFrames headers, says so, and drain() goes on where it stopped', () => {
    const sink = new RecordingSink();
    const parser = make(sink);
    const bytes = many(10);
    assert.equal(parser.push(bytes, 4), true);
    assert.equal(sink.events.filter((e) => e.type === 'frame').length, 4);
    assert.equal(parser.drain(4), true);
    assert.equal(sink.events.filter((e) => e.type === 'frame').length, 8);
    assert.equal(parser.drain(4), false, 'nothing is left after the last two');
    const reference = new RecordingSink();
    make(reference).push(many(10)); // the parser unmasks in place: a fresh copy of the same frames
    assert.deepEqual(sink.events, reference.events);
  });

  it('a budget that runs out exactly at the end of the bytes reports nothing left', () => {
    const parser = make(new RecordingSink());
    assert.equal(parser.push(many(3), 3), false);
  });

  it('at every split point and budget, the events are the same as one unbounded push', () => {
    const length = many(5).length;
    const reference = new RecordingSink();
    make(reference).push(many(5));
    for (let split = 0; split <= length; split++) {
      for (const budget of [1, 2, 3]) {
        const bytes = many(5);
        const sink = new RecordingSink();
        const parser = make(sink);
        let more = parser.push(bytes.subarray(0, split), budget);
        while (more) more = parser.drain(budget);
        more = parser.push(bytes.subarray(split), budget);
        while (more) more = parser.drain(budget);
        assert.deepEqual(sink.events, reference.events, `split ${split}, budget ${budget}`);
      }
    }
  });

  it('halt() from the sink stops after the current event; push() then only buffers; drain() resumes', () => {
    const events: string[] = [];
    let parser!: FrameParser;
    const sink = new (class extends RecordingSink {
      override onDataFrameEnd(fin: boolean): void {
        super.onDataFrameEnd(fin);
        events.push('end');
        if (events.length === 1) parser.halt();
      }
    })();
    parser = make(sink);
    const bytes = many(3);
    assert.equal(parser.push(bytes.subarray(0, 8)), false);
    assert.equal(parser.halted, true);
    assert.deepEqual(events, ['end']);
    assert.equal(parser.push(bytes.subarray(8)), false, 'a halted parser only buffers');
    assert.deepEqual(events, ['end']);
    assert.equal(parser.drain(), false);
    assert.deepEqual(events, ['end', 'end', 'end']);
  });
});
