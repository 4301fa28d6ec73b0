// Incremental UTF-8 validation (RFC 6455 §8.1, RFC 3629) on the Autobahn 6.x families, split at every byte index,
// failing fast at the first byte that no continuation could make valid.
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import { isValidUtf8, Utf8Validator } from '../../src/protocol/utf8.js';
import { hex } from '../helpers/frames.js';

/**
 * Oracle independent of the validator's state machine: a prefix is viable when it is valid UTF-8 or some completion
 * of at most 3 continuation bytes makes it so. Only the first continuation byte is range-restricted (after E0, ED,
 * F0, F4), so trying its boundary values covers every case.
 */
const FIRST = [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf];
const viableMemo = new Map<string, boolean>();
function viable(prefix: Uint8Array): boolean {
  if (isUtf8(prefix)) return true;
  const key = Buffer.from(prefix).toString('latin1');
  const known = viableMemo.get(key);
  if (known !== undefined) return known;
  const result = completes(prefix);
  viableMemo.set(key, result);
  return result;
}

function completes(prefix: Uint8Array): boolean {
  for (let extra = 1; extra <= 3; extra++) {
    for (const first of FIRST) {
      const candidate = Buffer.alloc(prefix.length + extra, 0x80);
      candidate.set(prefix);
      candidate[prefix.length] = first;
      if (isUtf8(candidate)) return true;
    }
  }
  return false;
}

/** Index of the first byte at which the stream can no longer become valid UTF-8, or -1. */
function firstBadIndex(bytes: Uint8Array): number {
  for (let k = 0; k < bytes.length; k++) if (!viable(bytes.subarray(0, k + 1))) return k;
  return -1;
}

/**
 * Pushes `chunks` through one validator and checks fail-fast: every chunk before the one holding the first bad byte
 * passes, that chunk fails; with no bad byte, end() tells whether the stream stopped on a code point boundary.
 */
function checkChunks(bytes: Uint8Array, cuts: readonly number[], bad = firstBadIndex(bytes)): void {
  const validator = new Utf8Validator();
  const bounds = [0, ...cuts, bytes.length];
  for (let c = 0; c + 1 < bounds.length; c++) {
    const start = bounds[c]!;
    const stop = bounds[c + 1]!;
    const ok = validator.push(bytes.subarray(start, stop));
    const shouldFail = bad !== -1 && bad >= start && bad < stop;
    if (ok === shouldFail) {
      assert.fail(`${Buffer.from(bytes).toString('hex')} cut at [${cuts}]: push() of chunk ${c} returned ${ok}`);
    }
    if (!ok) return;
  }
  const ended = validator.end();
  if (ended !== isUtf8(bytes))
    assert.fail(`${Buffer.from(bytes).toString('hex')} cut at [${cuts}]: end() was ${ended}`);
}

/** Whole, every single split, every pair of splits (short inputs), and byte by byte. */
function checkAllSplits(bytes: Uint8Array, pairLimit = 24): void {
  const n = bytes.length;
  const bad = firstBadIndex(bytes);
  checkChunks(bytes, [], bad);
  for (let i = 1; i < n; i++) checkChunks(bytes, [i], bad);
  if (n <= pairLimit) {
    for (let i = 1; i < n; i++) for (let j = i + 1; j < n; j++) checkChunks(bytes, [i, j], bad);
  }
  const everyByte = Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1);
  checkChunks(bytes, everyByte, bad);
  assert.equal(isValidUtf8(bytes), isUtf8(bytes));
}

/** [Autobahn case, hex, valid] — the UTF-8 decoder capability and stress test families of section 6. */
const CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  ['6.1.1 empty', '', true],
  ['6.2 Hello-µ@ßöäüàá-UTF-8!!', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!').toString('hex'), true],
  ['6.3.1 κόσμε + surrogate + edited', 'cebae1bdb9cf83cebcceb5eda080656469746564', false],
  ['6.4.1 κόσμε + f4908080', 'cebae1bdb9cf83cebcceb5f4908080656469746564', false],
  ['6.5.1 κόσμε', 'cebae1bdb9cf83cebcceb5', true],
  ['6.6 κόσμε truncated', 'cebae1bdb9cf83cebcce', false],
  ['6.7.1 U+0000', '00', true],
  ['6.7.2 U+0080', 'c280', true],
  ['6.7.3 U+0800', 'e0a080', true],
  ['6.7.4 U+10000', 'f0908080', true],
  ['6.8.1 5-byte first', 'f888808080', false],
  ['6.8.2 6-byte first', 'fc8480808080', false],
  ['6.9.1 U+007F', '7f', true],
  ['6.9.2 U+07FF', 'dfbf', true],
  ['6.9.3 U+FFFF', 'efbfbf', true],
  ['6.9.4 U+10FFFF', 'f48fbfbf', true],
  ['6.10.1 U+1FFFFF', 'f7bfbfbf', false],
  ['6.10.2 5-byte last', 'fbbfbfbfbf', false],
  ['6.10.3 6-byte last', 'fdbfbfbfbfbf', false],
  ['6.11.1 U+D7FF', 'ed9fbf', true],
  ['6.11.2 U+E000', 'ee8080', true],
  ['6.11.3 U+FFFD', 'efbfbd', true],
  ['6.11.4 U+10FFFF', 'f48fbfbf', true],
  ['6.11.5 U+110000', 'f4908080', false],
  ['6.12.1 lone 80', '80', false],
  ['6.12.2 lone bf', 'bf', false],
  ['6.12.3 80 bf', '80bf', false],
  ['6.12.4 80 bf 80', '80bf80', false],
  ['6.12.5 80 bf 80 bf', '80bf80bf', false],
  ['6.12.6 80 bf 80 bf 80', '80bf80bf80', false],
  ['6.12.7 80 bf 80 bf 80 bf', '80bf80bf80bf', false],
  ['6.12.8 all continuation bytes', Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i)).toString('hex'), false],
  [
    '6.13.1 2-byte leads + space',
    Buffer.from(Array.from({ length: 32 }, (_, i) => [0xc0 + i, 0x20]).flat()).toString('hex'),
    false,
  ],
  [
    '6.13.2 3-byte leads + space',
    Buffer.from(Array.from({ length: 16 }, (_, i) => [0xe0 + i, 0x20]).flat()).toString('hex'),
    false,
  ],
  [
    '6.13.3 4-byte leads + space',
    Buffer.from(Array.from({ length: 8 }, (_, i) => [0xf0 + i, 0x20]).flat()).toString('hex'),
    false,
  ],
  ['6.13.4 5-byte leads + space', 'f820f920fa20fb20', false],
  ['6.13.5 6-byte leads + space', 'fc20fd20', false],
  ['6.14.1 c0', 'c0', false],
  ['6.14.2 e0 80', 'e080', false],
  ['6.14.3 f0 80 80', 'f08080', false],
  ['6.14.4 f8 80 80 80', 'f8808080', false],
  ['6.14.5 fc 80 80 80 80', 'fc80808080', false],
  ['6.14.6 df', 'df', false],
  ['6.14.7 ef bf', 'efbf', false],
  ['6.14.8 f7 bf bf', 'f7bfbf', false],
  ['6.14.9 fb bf bf bf', 'fbbfbfbf', false],
  ['6.14.10 fd bf bf bf bf', 'fdbfbfbfbf', false],
  ['6.15.1 concatenated incompletes', 'c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf', false],
  ['6.16.1 fe', 'fe', false],
  ['6.16.2 ff', 'ff', false],
  ['6.16.3 fe fe ff ff', 'fefeffff', false],
  ['6.17.1 overlong /', 'c0af', false],
  ['6.17.2 overlong / 3', 'e080af', false],
  ['6.17.3 overlong / 4', 'f08080af', false],
  ['6.17.4 overlong / 5', 'f8808080af', false],
  ['6.17.5 overlong / 6', 'fc80808080af', false],
  ['6.18.1 max overlong 2', 'c1bf', false],
  ['6.18.2 max overlong 3', 'e09fbf', false],
  ['6.18.3 max overlong 4', 'f08fbfbf', false],
  ['6.18.4 max overlong 5', 'f887bfbfbf', false],
  ['6.18.5 max overlong 6', 'fc83bfbfbfbf', false],
  ['6.19.1 overlong NUL 2', 'c080', false],
  ['6.19.2 overlong NUL 3', 'e08080', false],
  ['6.19.3 overlong NUL 4', 'f0808080', false],
  ['6.19.4 overlong NUL 5', 'f880808080', false],
  ['6.19.5 overlong NUL 6', 'fc8080808080', false],
  ['6.20.1 U+D800', 'eda080', false],
  ['6.20.2 U+DB7F', 'edadbf', false],
  ['6.20.3 U+DB80', 'edae80', false],
  ['6.20.4 U+DBFF', 'edafbf', false],
  ['6.20.5 U+DC00', 'edb080', false],
  ['6.20.6 U+DF80', 'edbe80', false],
  ['6.20.7 U+DFFF', 'edbfbf', false],
  ['6.21.1 U+D800 U+DC00', 'eda080edb080', false],
  ['6.21.2 U+D800 U+DFFF', 'eda080edbfbf', false],
  ['6.21.3 U+DB7F U+DC00', 'edadbfedb080', false],
  ['6.21.4 U+DB7F U+DFFF', 'edadbfedbfbf', false],
  ['6.21.5 U+DB80 U+DC00', 'edae80edb080', false],
  ['6.21.6 U+DB80 U+DFFF', 'edae80edbfbf', false],
  ['6.21.7 U+DBFF U+DC00', 'edafbfedb080', false],
  ['6.21.8 U+DBFF U+DFFF', 'edafbfedbfbf', false],
  ['6.22.1 U+FFFE', 'efbfbe', true],
  ['6.22.2 U+FFFF', 'efbfbf', true],
  ['6.22.3 U+1FFFE', 'f09fbfbe', true],
  ['6.22.34 U+10FFFE', 'f48fbfbe', true],
  ['6.23.1 U+FFFD', 'efbfbd', true],
  ['6.23.7 U+FEFF', 'efbbbf', true],
];

describe('Utf8Validator and isValidUtf8: Autobahn 6.x families at every split', () => {
  for (const [name, bytesHex, valid] of CASES) {
    it(`${name} → ${valid ? 'valid' : 'invalid'}`, () => {
      const bytes = hex(bytesHex);
      assert.equal(isValidUtf8(bytes), valid);
      assert.equal(isUtf8(bytes), valid, 'the test table agrees with node:buffer isUtf8');
      checkAllSplits(bytes);
      // The same bytes inside valid text, so the bulk path and the boundary path both see them.
      checkAllSplits(Buffer.concat([Buffer.from('ab κ'), bytes, Buffer.from('€z')]), 0);
    });
  }
});

describe('Utf8Validator: fail fast', () => {
  it('Autobahn 6.3: fails at the chunk holding ed a0 80, not later', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('ce ba e1 bd b9 cf 83 ce bc ce b5')), true);
    assert.equal(v.push(hex('ed a0 80')), false);
  });

  it('Autobahn 6.4.1/6.4.2: fails at f4 90 as soon as the second byte arrives', () => {
    let v = new Utf8Validator();
    assert.equal(v.push(hex('ce ba e1 bd b9 cf 83 ce bc ce b5')), true);
    assert.equal(v.push(hex('f4 90 80 80')), false);
    v = new Utf8Validator();
    assert.equal(v.push(hex('ce ba e1 bd b9 cf 83 ce bc ce b5')), true);
    assert.equal(v.push(hex('f4')), true);
    assert.equal(v.push(hex('90')), false);
  });

  it('Autobahn 6.4.3/6.4.4: fails on an incomplete invalid prefix at a chunk end', () => {
    let v = new Utf8Validator();
    assert.equal(v.push(hex('ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90')), false);
    v = new Utf8Validator();
    assert.equal(v.push(hex('ce ba e1 bd b9 cf 83 ce bc ce b5 f4')), true);
    assert.equal(v.push(hex('90 80 80 65 64 69 74 65 64')), false);
  });

  for (const prefix of [
    'f4 90',
    'ed a0',
    'e0 80',
    'f0 80',
    'e0 9f',
    'f0 8f',
    'ed bf',
    'f4 bf',
    'c0',
    'c1',
    'f5',
    'ff',
    '80',
  ]) {
    it(`an invalid prefix ${prefix} fails at once, alone, after text, and split`, () => {
      assert.equal(new Utf8Validator().push(hex(prefix)), false);
      assert.equal(new Utf8Validator().push(Buffer.concat([Buffer.from('valid κόσμε '), hex(prefix)])), false);
      const bytes = hex(prefix);
      if (bytes.length === 2) {
        const v = new Utf8Validator();
        assert.equal(v.push(bytes.subarray(0, 1)), true);
        assert.equal(v.push(bytes.subarray(1)), false);
      }
    });
  }

  for (const prefix of ['f4 8f', 'ed 9f', 'e0 a0', 'f0 90', 'e1 80', 'f3 bf bf', 'c2']) {
    it(`a valid incomplete prefix ${prefix} passes push() and fails end()`, () => {
      const v = new Utf8Validator();
      assert.equal(v.push(hex(prefix)), true);
      assert.equal(v.end(), false);
    });
  }

  it('end() resets: the validator is reusable for the next message', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('e2 82')), true);
    assert.equal(v.end(), false);
    assert.equal(v.push(hex('61')), true, 'no leftover state from the truncated message');
    assert.equal(v.end(), true);
    assert.equal(v.push(hex('ed')), true);
    v.reset();
    assert.equal(v.push(hex('a0 80')), false, 'after reset a continuation byte has nothing to continue');
  });

  it('an empty chunk keeps the state', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('f0 9f')), true);
    assert.equal(v.push(Buffer.alloc(0)), true);
    assert.equal(v.push(hex('98 80')), true);
    assert.equal(v.end(), true);
  });
});

describe('Utf8Validator: exhaustive short sequences against the oracle', () => {
  it('every 1- and 2-byte sequence, whole and split', () => {
    const two = Buffer.alloc(2);
    for (let a = 0; a < 256; a++) {
      checkChunks(Buffer.of(a), []);
      for (let b = 0; b < 256; b++) {
        two[0] = a;
        two[1] = b;
        const bad = firstBadIndex(two);
        checkChunks(two, [], bad);
        checkChunks(two, [1], bad);
      }
    }
  });

  it('every multi-byte lead with every second byte and boundary third/fourth bytes', () => {
    const tails = [0x41, 0x80, 0xbf, 0xc2];
    for (let a = 0xc0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        for (const c of tails) {
          const three = Buffer.of(a, b, c);
          const bad3 = firstBadIndex(three);
          checkChunks(three, [], bad3);
          checkChunks(three, [1, 2], bad3);
          if (a >= 0xf0) {
            for (const d of tails) {
              const four = Buffer.of(a, b, c, d);
              const bad4 = firstBadIndex(four);
              checkChunks(four, [], bad4);
              checkChunks(four, [2], bad4);
              checkChunks(four, [1, 2, 3], bad4);
            }
          }
        }
      }
    }
  });
});

describe('Utf8Validator: long valid text split everywhere', () => {
  const text = 'Hello, κόσμε! € 𝄞 😀 日本語のテキスト — ünïcødé, ascii and 4-byte 🚀🌍 mixed. '.repeat(12);
  const bytes = Buffer.from(text);

  it('passes at every single split index and in small irregular chunks', () => {
    assert.ok(bytes.length > 1000);
    for (let i = 0; i <= bytes.length; i++) {
      const v = new Utf8Validator();
      assert.equal(v.push(bytes.subarray(0, i)), true);
      assert.equal(v.push(bytes.subarray(i)), true);
      assert.equal(v.end(), true, `split at ${i}`);
    }
    for (const size of [1, 2, 3, 5, 7, 13]) {
      const v = new Utf8Validator();
      for (let i = 0; i < bytes.length; i += size) assert.equal(v.push(bytes.subarray(i, i + size)), true);
      assert.equal(v.end(), true);
    }
  });

  it('is truncated (end() false) when cut inside a code point', () => {
    for (let i = 1; i <= bytes.length; i++) {
      const head = bytes.subarray(0, i);
      const v = new Utf8Validator();
      assert.equal(v.push(head), true);
      assert.equal(v.end(), isUtf8(head), `cut at ${i}`);
    }
  });

  it('fails at the chunk holding a surrogate planted anywhere', () => {
    for (const at of [0, 1, 100, 517, bytes.length]) {
      // Plant at a code point boundary at or after `at`.
      let k = Math.min(at, bytes.length);
      while (k < bytes.length && (bytes[k]! & 0xc0) === 0x80) k++;
      const bad = Buffer.concat([bytes.subarray(0, k), hex('ed a0 80'), bytes.subarray(k)]);
      for (const size of [1, 2, 3, 64, 4096]) {
        const v = new Utf8Validator();
        let failedAt = -1;
        for (let i = 0; i < bad.length; i += size) {
          if (!v.push(bad.subarray(i, i + size))) {
            failedAt = i;
            break;
          }
        }
        // The first impossible byte is the a0 after ed (index k + 1).
        assert.equal(failedAt, Math.floor((k + 1) / size) * size, `planted at ${k}, chunk size ${size}`);
      }
    }
  });
});
