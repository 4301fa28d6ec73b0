// permessage-deflate message compression, sans-IO and synchronous: RFC 7692 §7.2 (compress/decompress) with context
// takeover (§7.1.1) emulated by passing each direction's retained sliding window to one-shot zlib as a dictionary.
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, deflateRawSync, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { ProtocolError } from '../errors.js';
import { CloseCode, EMPTY } from '../protocol/constants.js';
import { type DeflateParams, MIN_WINDOW_BITS, type ResolvedCompression } from './deflate-negotiation.js';

export * from './deflate-negotiation.js';

/*
 * Why a dictionary instead of a long-lived zlib stream: LZ77 back-references can only reach the last 2^windowBits
 * bytes, so a fresh raw deflate/inflate primed with exactly those bytes sees the same window a stream would. The
 * result is byte-compatible with a peer that keeps one stream (ws, browsers), needs no zlib concurrency limiter or
 * async ordering, and keeps no zlib state between messages. Costs (measured): deflate of a small JSON ~10 µs without
 * a dictionary, ~42 µs with a 32 KiB one; inflate 3–6 µs.
 *
 * Our own compressor never looks back more than 8 KiB (2^13), whatever window was negotiated (a window is a maximum:
 * RFC 7692 §7.1.2): priming zlib costs time in proportion to the dictionary, and on a stream of ~1 KiB JSON messages
 * 8 KiB compressed to 108 bytes in 20 µs where 32 KiB gave 113 bytes in 64 µs. Received messages keep the peer's full
 * window, which the peer chooses.
 *
 * Retained memory per connection (the windows below; the zlib state of a call, ~256 KiB for deflate at
 * windowBits 15 / memLevel 8, is transient and freed when the call returns):
 *   dedicated, default 15/15 bits:  8 KiB sent + 32 KiB received = 40 KiB (2^min(13, bits) + 2^peerBits in general)
 *   shared:                         0 sent + 32 KiB received = 32 KiB (0 if the client offers client_no_context_takeover)
 *   no compression:                 0
 */
export const RETAINED_BYTES_PER_CONNECTION = {
  dedicated: (1 << 13) + (1 << 15),
  shared: 1 << 15,
  none: 0,
} as const;

/** zlib rejects windowBits 8 for raw deflate, but never emits a distance above 2^w − 262, so 9 suits an 8-bit peer. */
const MIN_DEFLATE_WINDOW_BITS = 9;
/** The most history our compressor uses (see above): 8 KiB. */
const MAX_DEFLATE_WINDOW_BITS = 13;
/** The inflater accepts any window up to 2^15: the peer's window is bounded by the dictionary we keep for it. */
const INFLATE_WINDOW_BITS = 15;
/** §7.2.1: a sync flush ends with an empty stored block, 00 00 ff ff, which the sender strips and §7.2.2 restores. */
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export type DeflateRole = 'server' | 'client';

function sendWindowBits(bits: number): number {
  return Math.min(MAX_DEFLATE_WINDOW_BITS, Math.max(MIN_DEFLATE_WINDOW_BITS, bits));
}

/** Bytes one end retains for the given agreement: the memory figure above, per connection. */
export function retainedWindowBytes(params: DeflateParams, role: DeflateRole): number {
  const server = params.serverNoContextTakeover ? 0 : 1 << params.serverMaxWindowBits;
  const client = params.clientNoContextTakeover ? 0 : 1 << params.clientMaxWindowBits;
  // The sender keeps 2^min(13, max(9, bits)) (what its zlib window holds); the receiver 2^max(8, bits).
  const send = role === 'server' ? server : client;
  const recv = role === 'server' ? client : server;
  return (send === 0 ? 0 : 1 << sendWindowBits(Math.log2(send))) + recv;
}

function deflate(data: Buffer, windowBits: number, cfg: ResolvedCompression, dictionary: Buffer): Buffer {
  const options: ZlibOptions = {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
    windowBits: sendWindowBits(windowBits),
    level: cfg.level,
    memLevel: cfg.memLevel,
  };
  if (dictionary.length > 0) options.dictionary = dictionary;
  const out = deflateRawSync(data, options);
  // §7.2.1 step 2: remove the 4-octet tail. An empty message leaves the single byte 00 (§7.2.3.6).
  const end = out.length - SYNC_TAIL.length;
  if (end < 0 || !out.subarray(end).equals(SYNC_TAIL)) throw new Error('zlib output did not end with a sync flush');
  return out.subarray(0, end);
}

/** The last `keep` bytes of `window` followed by `data`, in a buffer of its own (never a pooled slab or the caller's). */
function slide(window: Buffer, data: Buffer, keep: number): Buffer {
  // Once full, the window is reused in place (zlib copies a dictionary, so changing it later is safe): no 32 KiB
  // allocation per message.
  if (window.length === keep) {
    if (data.length >= keep) {
      data.copy(window, 0, data.length - keep);
    } else {
      window.copyWithin(0, data.length);
      data.copy(window, keep - data.length);
    }
    return window;
  }
  if (data.length >= keep) {
    const next = Buffer.allocUnsafeSlow(keep);
    data.copy(next, 0, data.length - keep);
    return next;
  }
  const fromOld = Math.min(window.length, keep - data.length);
  const next = Buffer.allocUnsafeSlow(fromOld + data.length);
  window.copy(next, 0, window.length - fromOld);
  data.copy(next, fromOld);
  return next;
}

/**
 * One connection's compressor and decompressor. A server compresses with the server_* parameters and decompresses
 * with the client_* ones; a client the reverse. Only messages that went through compress()/decompress() (RSV1 set)
 * enter the windows, which is what §7.2.3 means by the sliding window of compressed messages.
 */
export class PerMessageDeflate {
  readonly params: DeflateParams;
  readonly role: DeflateRole;
  /** Messages shorter than this are better sent uncompressed; the caller decides. */
  readonly threshold: number;
  /** The negotiated window of our sending direction: a shared payload made with more bits is not valid here. */
  readonly sendWindowBits: number;
  /** True when our sending direction has no context takeover, so one `compressStateless` payload may be written to many peers. */
  readonly shareable: boolean;
  readonly #cfg: ResolvedCompression;
  readonly #sendKeep: number;
  readonly #recvKeep: number;
  #sendWindow: Buffer = EMPTY;
  #recvWindow: Buffer = EMPTY;

  constructor(params: DeflateParams, role: DeflateRole, cfg: ResolvedCompression) {
    if (role !== 'server' && role !== 'client') throw new TypeError(`role must be 'server' or 'client', got ${role}`);
    this.params = { ...params };
    this.role = role;
    this.threshold = cfg.threshold;
    this.#cfg = cfg;
    const isServer = role === 'server';
    const sendNoContext = isServer ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    const recvNoContext = isServer ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.sendWindowBits = isServer ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    const recvBits = isServer ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.shareable = sendNoContext;
    // zlib's window holds 2^windowBits of the dictionary; the peer's references reach at most 2^recvBits back.
    this.#sendKeep = sendNoContext ? 0 : 1 << sendWindowBits(this.sendWindowBits);
    this.#recvKeep = recvNoContext ? 0 : 1 << Math.max(MIN_WINDOW_BITS, recvBits);
  }

  /**
   * A payload without context, made with this connection's settings: the hub frames it once and writes it to every
   * peer whose `shareable` is true and whose `sendWindowBits` is the same (it caches one payload per value).
   */
  compressStateless(data: Buffer): Buffer {
    // With context takeover the peer would add this message to its window but we would not: later messages corrupt.
    if (!this.shareable) throw new TypeError('compressStateless() needs no context takeover on the sending side');
    return deflate(data, this.sendWindowBits, this.#cfg, EMPTY);
  }

  /** Bytes currently held in the two windows (bounded by `retainedWindowBytes(params, role)`). */
  get retainedBytes(): number {
    return this.#sendWindow.length + this.#recvWindow.length;
  }

  /**
   * §7.2.1: the payload of a message to send with RSV1 set, sync-flush tail removed. With `commit` false the message
   * does not enter the window yet: call `commitSent(data)` once it is certain to be written, since a compressed
   * message the peer never receives must not be referred back to (§7.2.3).
   */
  compress(data: Buffer, commit = true): Buffer {
    const payload = deflate(data, this.sendWindowBits, this.#cfg, this.#sendWindow);
    if (commit) this.commitSent(data);
    return payload;
  }

  /** Adds a message compressed with `compress(data, false)` to the sending window. */
  commitSent(data: Buffer): void {
    if (this.#sendKeep > 0) this.#sendWindow = slide(this.#sendWindow, data, this.#sendKeep);
  }

  /**
   * §7.2.2: inflates a received RSV1 message (its payload, or its fragments' payloads in order). Throws ProtocolError 1009 once
   * the output would exceed `maxSize` (zlib stops at the next 16 KiB chunk, so a bomb is never inflated whole) and
   * 1007 for data that is not valid deflate.
   */
  decompress(payload: Buffer | readonly Buffer[], maxSize: number): Buffer {
    if (!(maxSize >= 0)) throw new RangeError(`maxSize must be a non-negative number, got ${maxSize}`);
    // The fragments and the tail are joined in one copy (a message arrives in pieces; zlib takes one buffer).
    const parts = Buffer.isBuffer(payload) ? [payload] : payload;
    let size = SYNC_TAIL.length;
    for (const p of parts) size += p.length;
    const input = Buffer.concat([...parts, SYNC_TAIL], size);
    const options: ZlibOptions = {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      windowBits: INFLATE_WINDOW_BITS,
      // zlib demands ≥ 1; a 0 limit is enforced by the length check below.
      maxOutputLength: Math.max(1, Math.min(Math.floor(maxSize), bufferConstants.MAX_LENGTH)),
    };
    if (this.#recvWindow.length > 0) options.dictionary = this.#recvWindow;
    let out: Buffer;
    try {
      out = inflateRawSync(input, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooBig(maxSize);
      throw new ProtocolError(CloseCode.InvalidPayload, `Invalid compressed data: ${(err as Error).message}`);
    }
    if (out.length > maxSize) throw tooBig(maxSize);
    if (this.#recvKeep > 0) this.#recvWindow = slide(this.#recvWindow, out, this.#recvKeep);
    return out;
  }
}

function tooBig(maxSize: number): ProtocolError {
  return new ProtocolError(CloseCode.MessageTooBig, `Decompressed message exceeds the limit of ${maxSize} bytes`);
}
