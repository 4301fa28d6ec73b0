// The connection's inflation driver (src/connection/inflation.ts): a compressed message whose last bytes come with
// the end reaches the application as one chunk (no stop for input, no tiny second chunk to join), at every split
// point of its frames' bytes; and pieces that arrive on their own are inflated as they come.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Inflation, type InflationHost } from '../../src/connection/inflation.js';
import { MAX_HEADER_BYTES } from '../../src/extensions/inflate-state.js';
import { type DeflateParams, PerMessageDeflate, resolveCompression } from '../../src/extensions/permessage-deflate.js';

const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

const plain = Buffer.from(
  JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `user-${(i * 37) % 101}`, online: i % 3 > 0 }))),
);
/**
 * The message as a client sends it: raw deflate, sync-flushed, without the 00 00 ff ff tail (RFC 7692 §7.2.1).
 * Level 1 keeps it well above the 320 bytes a dynamic block header may take, so it can be decoded before its end.
 */
const payload = ((): Buffer => {
  const out = zlib.deflateRawSync(plain, { finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 1 });
  return out.subarray(0, out.length - 4);
})();

function harness(): { inflation: Inflation; chunks: Buffer[]; done: () => boolean } {
  const cfg = resolveCompression('dedicated');
  assert.ok(cfg);
  const chunks: Buffer[] = [];
  let finished = false;
  const host: InflationHost = {
    halt: () => {},
    resumeInput: () => {},
    fail: (_code, message) => assert.fail(`inflation failed: ${message}`),
    reading: () => true,
    output: (chunk) => {
      chunks.push(chunk);
      return true;
    },
    done: () => {
      finished = true;
    },
    saturated: () => false,
  };
  const inflation = new Inflation(new PerMessageDeflate(PARAMS, 'server', cfg), host);
  return { inflation, chunks, done: () => finished };
}

describe('inflation of one compressed message', () => {
  it('comes out as one chunk when its last piece is pushed with the end, at every split point', () => {
    for (let cut = 0; cut <= payload.length; cut++) {
      const { inflation, chunks, done } = harness();
      inflation.begin(1 << 20);
      if (cut > 0) inflation.push(payload.subarray(0, cut), false);
      const beforeLast = chunks.length;
      inflation.push(payload.subarray(cut), true);
      assert.equal(chunks.length, beforeLast, `cut ${cut}: inflated before the end came`);
      inflation.end();
      assert.ok(done(), `cut ${cut}: not done`);
      assert.deepEqual(Buffer.concat(chunks), plain, `cut ${cut}`);
      assert.equal(chunks.length - beforeLast, 1, `cut ${cut}: the last piece came out in ${chunks.length} chunks`);
      if (cut === 0) assert.equal(chunks.length, 1, 'a message that arrived whole is one chunk');
    }
  });

  it('is inflated as its pieces arrive when the end is not known to follow', () => {
    assert.ok(payload.length > 2 * MAX_HEADER_BYTES, `payload of ${payload.length} bytes`);
    const { inflation, chunks, done } = harness();
    inflation.begin(1 << 20);
    inflation.push(payload, false);
    assert.ok(chunks.length > 0, 'nothing inflated before the end');
    inflation.end();
    assert.ok(done());
    assert.deepEqual(Buffer.concat(chunks), plain);
  });
});
