// A raw permessage-deflate client for integration tests (RFC 7692 §5–§7): it offers any parameter list, checks the
// server's answer with its own parser, then compresses and inflates with long-lived zlib streams (Z_SYNC_FLUSH, tail
// 00 00 ff ff stripped/restored) configured per the agreement, as a browser would. Independent of src/extensions.
import assert from 'node:assert/strict';
import {
  constants as zc,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  deflateRawSync,
  type InflateRaw,
} from 'node:zlib';
import { chop, encodeFrame, type HttpResponse, Op, RawPeer, type ServerFrame } from './raw-peer.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One offer. `clientMaxWindowBits: true` offers the parameter without a value. */
export interface OfferSpec {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number | true;
}

/** What was agreed, as this peer understands it. */
export interface Agreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/**
 * Autobahn 13.x offers: (request server_no_context_takeover, requested server_max_window_bits; 0 = not requested).
 * Autobahn's client always adds client_no_context_takeover and client_max_window_bits (it accepts both).
 */
export function autobahnOffer(noContext: boolean, bits: number, autobahnAccepts = true): OfferSpec {
  const offer: OfferSpec = {};
  if (autobahnAccepts) {
    offer.clientNoContextTakeover = true;
    offer.clientMaxWindowBits = true;
  }
  if (noContext) offer.serverNoContextTakeover = true;
  if (bits !== 0) offer.serverMaxWindowBits = bits;
  return offer;
}

export function offerHeader(offers: readonly OfferSpec[]): string {
  return offers
    .map((o) => {
      let s = 'permessage-deflate';
      if (o.clientNoContextTakeover) s += '; client_no_context_takeover';
      if (o.clientMaxWindowBits === true) s += '; client_max_window_bits';
      else if (o.clientMaxWindowBits !== undefined) s += `; client_max_window_bits=${o.clientMaxWindowBits}`;
      if (o.serverNoContextTakeover) s += '; server_no_context_takeover';
      if (o.serverMaxWindowBits !== undefined) s += `; server_max_window_bits=${o.serverMaxWindowBits}`;
      return s;
    })
    .join(', ');
}

function bitsValue(name: string, value: string | true): number {
  assert.ok(value !== true && /^\d+$/.test(value), `${name} needs a decimal value in a response, got ${String(value)}`);
  const n = Number(value);
  assert.ok(n >= 8 && n <= 15, `${name}=${n} is outside 8..15`);
  return n;
}

/** Does the response fit this offer (§7.1)? Returns the agreement or a reason it does not. */
function matchOffer(params: Map<string, string | true>, offer: OfferSpec): Agreement | string {
  const a: Agreement = {
    serverNoContextTakeover: params.has('server_no_context_takeover'),
    clientNoContextTakeover: params.has('client_no_context_takeover'),
    serverMaxWindowBits: 15,
    clientMaxWindowBits: typeof offer.clientMaxWindowBits === 'number' ? offer.clientMaxWindowBits : 15,
  };
  // §7.1.1.1: a server accepting an offer with server_no_context_takeover MUST include it in the response.
  if (offer.serverNoContextTakeover && !a.serverNoContextTakeover) return 'server_no_context_takeover missing';
  const smwb = params.get('server_max_window_bits');
  if (smwb !== undefined) {
    a.serverMaxWindowBits = bitsValue('server_max_window_bits', smwb);
    // §7.1.2.1: the value must not be larger than the one offered.
    if (offer.serverMaxWindowBits !== undefined && a.serverMaxWindowBits > offer.serverMaxWindowBits) {
      return `server_max_window_bits=${a.serverMaxWindowBits} > offered ${offer.serverMaxWindowBits}`;
    }
  } else if (offer.serverMaxWindowBits !== undefined) {
    // §7.1.2.1: "a server accepting an offer with this parameter ... MUST include" it.
    return 'server_max_window_bits requested but not answered';
  }
  const cmwb = params.get('client_max_window_bits');
  if (cmwb !== undefined) {
    // §7.1.2.2: only when offered, always with a value, no larger than an offered value.
    if (offer.clientMaxWindowBits === undefined) return 'client_max_window_bits not offered';
    a.clientMaxWindowBits = bitsValue('client_max_window_bits', cmwb);
    if (typeof offer.clientMaxWindowBits === 'number' && a.clientMaxWindowBits > offer.clientMaxWindowBits) {
      return `client_max_window_bits=${a.clientMaxWindowBits} > offered ${offer.clientMaxWindowBits}`;
    }
  }
  return a;
}

/** Checks a Sec-WebSocket-Extensions response against the offers (RFC 7692 §5, §7) and returns the agreement. */
export function checkResponse(header: string, offers: readonly OfferSpec[]): Agreement {
  const exts = header.split(',').map((s) => s.trim());
  assert.equal(exts.length, 1, `exactly one extension may be accepted, got "${header}"`);
  const [name, ...rawParams] = exts[0]!.split(';').map((s) => s.trim());
  assert.equal(name, 'permessage-deflate', `unexpected extension in "${header}"`);
  const params = new Map<string, string | true>();
  for (const p of rawParams) {
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const value =
      eq < 0
        ? true
        : p
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    assert.ok(!params.has(key), `duplicate parameter ${key} in "${header}"`);
    assert.ok(
      [
        'server_no_context_takeover',
        'client_no_context_takeover',
        'server_max_window_bits',
        'client_max_window_bits',
      ].includes(key),
      `unknown parameter ${key} in "${header}"`,
    );
    if (key.endsWith('_no_context_takeover')) assert.equal(value, true, `${key} must have no value`);
    params.set(key, value);
  }
  const reasons: string[] = [];
  for (const offer of offers) {
    const m = matchOffer(params, offer);
    if (typeof m !== 'string') return m;
    reasons.push(m);
  }
  assert.fail(`response "${header}" fits none of the offers: ${reasons.join('; ')}`);
}

export interface ReceivedMessage {
  type: 'text' | 'binary';
  data: Buffer;
  /** RSV1 was set on the first frame. */
  compressed: boolean;
  /** The payload as it came over the wire (compressed, if it was). */
  wire: Buffer;
  frames: number;
}

export interface SendOptions {
  type?: 'text' | 'binary';
  /** Default true; false sends the message uncompressed (RSV1 clear), leaving the deflater untouched. */
  compress?: boolean;
  /** Split the (compressed) payload into frames of this many bytes; RSV1 on the first only. */
  fragment?: number;
  /** Deliver the frames' bytes in TCP writes of this size, a turn of the event loop apart. */
  chop?: number;
}

export interface OpenOptions {
  path?: string;
  /** The offers, or a raw header value, or null for no offer. */
  offers?: readonly OfferSpec[] | string | null;
}

function collect(stream: DeflateRaw | InflateRaw, write: Buffer, flush: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer): void => {
      out.push(c);
    };
    const onError = (err: Error): void => {
      stream.off('data', onData);
      reject(err);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(write);
    stream.flush(flush, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(out));
    });
  });
}

/** A raw client speaking permessage-deflate with real zlib streams. */
export class DeflatePeer {
  readonly raw: RawPeer;
  readonly response: HttpResponse;
  /** null when the server declined (no Sec-WebSocket-Extensions in the 101). */
  readonly agreement: Agreement | null;
  /** Control frames that arrived while reading messages. */
  readonly controls: ServerFrame[] = [];
  #deflater: DeflateRaw | null = null;
  #inflater: InflateRaw | null = null;

  private constructor(raw: RawPeer, response: HttpResponse, agreement: Agreement | null) {
    this.raw = raw;
    this.response = response;
    this.agreement = agreement;
  }

  static async open(port: number, options: OpenOptions = {}): Promise<DeflatePeer> {
    const offers = options.offers === undefined ? [{ clientMaxWindowBits: true as const }] : options.offers;
    const raw = await RawPeer.dial(port);
    try {
      const headers: Record<string, string> = {};
      if (offers !== null)
        headers['Sec-WebSocket-Extensions'] = typeof offers === 'string' ? offers : offerHeader(offers);
      const response = await raw.handshake({ path: options.path ?? '/echo', headers });
      assert.equal(response.status, 101, `handshake refused: ${response.statusLine}`);
      const header = response.headers['sec-websocket-extensions'];
      let agreement: Agreement | null = null;
      if (header !== undefined) {
        assert.ok(offers !== null, `the server accepted an extension nobody offered: ${header}`);
        agreement = checkResponse(header, typeof offers === 'string' ? [{ clientMaxWindowBits: true }] : offers);
      }
      return new DeflatePeer(raw, response, agreement);
    } catch (err) {
      raw.destroy();
      throw err;
    }
  }

  get extensionHeader(): string | undefined {
    return this.response.headers['sec-websocket-extensions'];
  }

  /** §7.2.1 with a long-lived stream: compress, sync-flush, strip the tail. A fresh stream per message without context. */
  async compress(data: Buffer): Promise<Buffer> {
    const a = this.#need();
    if (a.clientNoContextTakeover || !this.#deflater) {
      this.#deflater?.close();
      // Node raises 8 to 9 for raw deflate (zlib refuses 8); 9 never reaches further back than 2^9 − 262 bytes.
      this.#deflater = createDeflateRaw({ windowBits: a.clientMaxWindowBits, memLevel: 8 });
    }
    const out = await collect(this.#deflater, data, zc.Z_SYNC_FLUSH);
    assert.ok(out.subarray(-4).equals(TAIL), 'sync flush must end in 00 00 ff ff');
    return out.subarray(0, out.length - 4);
  }

  /**
   * §7.2.2 with a long-lived inflater whose window is exactly the agreed server_max_window_bits: a server that reaches
   * further back fails here ("invalid distance too far back"), and so does one that takes over context it gave up.
   */
  async inflate(payload: Buffer): Promise<Buffer> {
    const a = this.#need();
    if (a.serverNoContextTakeover || !this.#inflater) {
      this.#inflater?.close();
      // zlib checks distances against the window only beyond the current output chunk: 64-byte chunks make the check
      // bite for any reference more than 64 bytes past the agreed window, within a message as well as across them.
      this.#inflater = createInflateRaw({
        windowBits: a.serverMaxWindowBits,
        chunkSize: a.serverMaxWindowBits < 15 ? 64 : 16 * 1024,
      });
    }
    return collect(this.#inflater, Buffer.concat([payload, TAIL]), zc.Z_SYNC_FLUSH);
  }

  /** Sends one message (compressed unless told otherwise); returns the payload that went on the wire. */
  async send(data: Buffer | string, options: SendOptions = {}): Promise<Buffer> {
    const type = options.type ?? (typeof data === 'string' ? 'text' : 'binary');
    const plain = typeof data === 'string' ? Buffer.from(data) : data;
    const compress = options.compress ?? true;
    const payload = compress ? await this.compress(plain) : plain;
    await this.sendPayload(payload, {
      type,
      rsv1: compress,
      ...(options.fragment ? { fragment: options.fragment } : {}),
      ...(options.chop ? { chop: options.chop } : {}),
    });
    return payload;
  }

  /** Frames an already prepared payload: RSV1 (if asked) on the first frame only, continuations without it. */
  async sendPayload(
    payload: Buffer,
    options: { type?: 'text' | 'binary'; rsv1?: boolean; fragment?: number; chop?: number } = {},
  ): Promise<void> {
    const opcode = (options.type ?? 'binary') === 'text' ? Op.Text : Op.Binary;
    const pieces = options.fragment ? chop(payload, options.fragment) : [payload];
    if (pieces.length === 0) pieces.push(Buffer.alloc(0));
    const frames = pieces.map((p, i) =>
      encodeFrame({
        opcode: i === 0 ? opcode : Op.Continuation,
        payload: p,
        fin: i === pieces.length - 1,
        rsv: i === 0 && options.rsv1 ? 4 : 0,
      }),
    );
    const bytes = Buffer.concat(frames);
    if (options.chop) await this.raw.sendChopped(bytes, options.chop);
    else await this.raw.sendRaw(bytes);
  }

  /** The next data message; checks the RSV rules on the server's frames and inflates an RSV1 message. */
  async nextMessage(timeout?: number): Promise<ReceivedMessage> {
    let first: ServerFrame;
    for (;;) {
      first = await this.raw.nextFrame(timeout);
      if (first.opcode < 0x8) break;
      assert.notEqual(first.opcode, Op.Close, `unexpected close ${closeText(first)}`);
      this.controls.push(first);
    }
    assert.ok(
      first.opcode === Op.Text || first.opcode === Op.Binary,
      `expected a data frame, got opcode ${first.opcode}`,
    );
    assert.equal(first.masked, false, 'server frames are never masked');
    assert.equal(first.rsv & 3, 0, 'RSV2/RSV3 must be clear');
    const compressed = (first.rsv & 4) !== 0;
    if (compressed) assert.ok(this.agreement, 'RSV1 set although no extension was negotiated');
    const parts = [first.payload];
    let last = first;
    while (!last.fin) {
      last = await this.raw.nextFrame(timeout);
      if (last.opcode >= 0x8) {
        this.controls.push(last);
        continue;
      }
      assert.equal(last.opcode, Op.Continuation, 'expected a continuation frame');
      assert.equal(last.rsv, 0, 'RFC 7692 §6.1: RSV1 only on the first frame of a message');
      parts.push(last.payload);
    }
    const wire = Buffer.concat(parts);
    const data = compressed ? await this.inflate(wire) : wire;
    return { type: first.opcode === Op.Text ? 'text' : 'binary', data, compressed, wire, frames: parts.length };
  }

  /** Expects the next message to carry exactly `expected`; returns it. */
  async expectEcho(expected: Buffer | string, type?: 'text' | 'binary'): Promise<ReceivedMessage> {
    const want = typeof expected === 'string' ? Buffer.from(expected) : expected;
    const msg = await this.nextMessage();
    assert.equal(msg.type, type ?? (typeof expected === 'string' ? 'text' : 'binary'));
    if (!msg.data.equals(want)) assert.fail(`echo differs: expected ${want.length} bytes, got ${msg.data.length}`);
    return msg;
  }

  close(): void {
    this.#deflater?.close();
    this.#inflater?.close();
    this.raw.destroy();
  }

  #need(): Agreement {
    assert.ok(this.agreement, 'permessage-deflate was not negotiated');
    return this.agreement;
  }
}

function closeText(f: ServerFrame): string {
  return f.payload.length >= 2 ? `${f.payload.readUInt16BE(0)} "${f.payload.subarray(2).toString()}"` : '(no code)';
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu Grüße 東京 ☃ 🎉'.split(
    ' ',
  );

/** Compressible, multi-byte UTF-8 text of exactly `size` bytes (padding with ASCII keeps it valid). */
export function textOfSize(size: number, rand: () => number): string {
  let s = '';
  let bytes = 0;
  for (;;) {
    const w = `${WORDS[Math.floor(rand() * WORDS.length)]!} {"n":${Math.floor(rand() * 1000)}} `;
    const b = Buffer.byteLength(w);
    if (bytes + b > size) break;
    s += w;
    bytes += b;
  }
  return s + 'x'.repeat(size - bytes);
}

/** Binary of `size` bytes: random runs interleaved with repeats of earlier bytes, so deflate has work at every size. */
export function binaryOfSize(size: number, rand: () => number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let i = 0;
  while (i < size) {
    const run = Math.min(size - i, 1 + Math.floor(rand() * 64));
    if (i > 300 && rand() < 0.5) {
      const from = Math.floor(rand() * (i - run));
      out.copy(out, i, from, from + run);
    } else {
      for (let k = 0; k < run; k++) out[i + k] = Math.floor(rand() * 256);
    }
    i += run;
  }
  return out;
}

/** A compressed payload that inflates to `inflated` zero bytes, built in 1 MiB steps (never held whole). */
export async function zeroBomb(inflated: number): Promise<Buffer> {
  if (inflated <= 1 << 20) {
    const out = deflateRawSync(Buffer.alloc(inflated), { level: 9, finishFlush: zc.Z_SYNC_FLUSH });
    return out.subarray(0, out.length - 4);
  }
  const d = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  const zero = Buffer.alloc(1 << 20);
  for (let left = inflated; left > 0; left -= zero.length) d.write(left >= zero.length ? zero : zero.subarray(0, left));
  await new Promise<void>((resolve) => d.flush(zc.Z_SYNC_FLUSH, () => resolve()));
  d.close();
  const all = Buffer.concat(out);
  return all.subarray(0, all.length - 4);
}
