// Close payloads (RFC 6455 §5.5.1, §7.4): every code classified, reasons validated, encoding misuse rejected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeClosePayload, encodeClosePayload, isValidWireCloseCode } from '../../src/protocol/close-payload.js';
import { CloseCode, MAX_CLOSE_REASON } from '../../src/protocol/constants.js';
import { hex } from '../helpers/frames.js';

function expectedValid(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function payload(code: number, reason: Uint8Array | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, Buffer.from(reason)]);
}

describe('decodeClosePayload', () => {
  it('an empty payload means no status: 1005, empty reason', () => {
    assert.deepEqual(decodeClosePayload(Buffer.alloc(0)), { ok: true, code: CloseCode.NoStatus, reason: '' });
  });

  it('a 1-byte payload fails with 1002', () => {
    for (const b of [0x00, 0x03, 0xe8, 0xff]) {
      const got = decodeClosePayload(Buffer.of(b));
      assert.equal(got.ok, false);
      assert.equal(!got.ok && got.closeCode, CloseCode.ProtocolError);
    }
  });

  it('classifies every code 0..5000 and the extremes', () => {
    const codes = [...Array.from({ length: 5001 }, (_, i) => i), 5001, 9999, 65535];
    for (const code of codes) {
      const got = decodeClosePayload(payload(code, 'why'));
      if (expectedValid(code)) {
        assert.deepEqual(got, { ok: true, code, reason: 'why' }, `code ${code}`);
      } else {
        assert.equal(got.ok, false, `code ${code} must be refused`);
        assert.equal(!got.ok && got.closeCode, CloseCode.ProtocolError, `code ${code}`);
      }
      assert.equal(isValidWireCloseCode(code), expectedValid(code), `isValidWireCloseCode(${code})`);
    }
  });

  it('names the boundary codes explicitly', () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.equal(isValidWireCloseCode(code), false);
    for (const code of [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999]) {
      assert.equal(isValidWireCloseCode(code), true);
    }
  });

  it('decodes a code alone and a code with a UTF-8 reason', () => {
    assert.deepEqual(decodeClosePayload(hex('03 e8')), { ok: true, code: 1000, reason: '' });
    assert.deepEqual(decodeClosePayload(payload(4000, 'κόσμε ✓')), { ok: true, code: 4000, reason: 'κόσμε ✓' });
    const longest = 'x'.repeat(MAX_CLOSE_REASON);
    assert.deepEqual(decodeClosePayload(payload(1001, longest)), { ok: true, code: 1001, reason: longest });
  });

  it('an invalid UTF-8 reason fails with 1007', () => {
    const bad = ['ff', 'c0 80', 'ed a0 80', 'f4 90 80 80', 'ce ba e1 bd', '80', 'e2 82', '61 62 fe'];
    for (const b of bad) {
      const got = decodeClosePayload(payload(1000, hex(b)));
      assert.equal(got.ok, false, b);
      assert.equal(!got.ok && got.closeCode, CloseCode.InvalidPayload, b);
    }
  });

  it('checks the code before the reason: a bad code with a bad reason is 1002', () => {
    const got = decodeClosePayload(payload(1005, hex('ff')));
    assert.equal(!got.ok && got.closeCode, CloseCode.ProtocolError);
  });
});

describe('encodeClosePayload', () => {
  it('encodes no code as an empty payload', () => {
    assert.equal(encodeClosePayload(undefined).length, 0);
    assert.equal(encodeClosePayload(undefined, '').length, 0);
  });

  it('refuses a reason without a code with TypeError', () => {
    assert.throws(() => encodeClosePayload(undefined, 'why'), TypeError);
  });

  it('encodes code and reason, and round-trips through decode', () => {
    assert.equal(encodeClosePayload(1000).toString('hex'), '03e8');
    assert.equal(encodeClosePayload(4999, 'ok').toString('hex'), '1387' + '6f6b');
    for (const code of [1000, 1001, 1003, 1007, 1014, 3000, 4321, 4999]) {
      for (const reason of ['', 'bye', 'ünïcødé 🚀', 'é'.repeat(61)]) {
        assert.deepEqual(decodeClosePayload(encodeClosePayload(code, reason)), { ok: true, code, reason });
      }
    }
  });

  it('refuses codes that must not be sent with RangeError', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 1000.5, Number.NaN, -1000]) {
      assert.throws(() => encodeClosePayload(code), RangeError, `code ${code}`);
    }
  });

  it('accepts a 123-byte reason and refuses 124 bytes with RangeError, counting bytes not characters', () => {
    assert.equal(encodeClosePayload(1000, 'a'.repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, 'a'.repeat(124)), RangeError);
    // 62 two-byte characters are 124 bytes although only 62 characters.
    assert.throws(() => encodeClosePayload(1000, 'é'.repeat(62)), RangeError);
    assert.equal(encodeClosePayload(1000, `${'é'.repeat(61)}a`).length, 125);
  });
});
