// permessage-deflate message compression, sans-IO and synchronous: RFC 7692 §7.2 (compress/decompress) with context
// takeover (§7.1.1) emulated by passing each direction's retained sliding window to one-shot zlib as a dictionary.
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { ProtocolError } from '../errors.js';
import { CloseCode, EMPTY } from '../protocol/constants.js';
import { type DeflateParams, MIN_WINDOW_BITS, type ResolvedCompression } from './deflate-negotiation.js';
import { DeflateSender, deflateMessage, SYNC_TAIL, sendWindowBits, slide } from './deflate-sender.js';

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

/** The inflater accepts any window up to 2^15: the peer's window is bounded by the dictionary we keep for it. */
const INFLATE_WINDOW_BITS = 15;

export type DeflateRole = 'server' | 'client';

/** Bytes one end retains for the given agreement: the memory figure above, per connection. */
export function retainedWindowBytes(params: DeflateParams, role: DeflateRole): number {
  const server = params.serverNoContextTakeover ? 0 : 1 << params.serverMaxWindowBits;
  const client = params.clientNoContextTakeover ? 0 : 1 << params.clientMaxWindowBits;
  // The sender keeps 2^min(13, max(9, bits)) (what its zlib window holds); the receiver 2^max(8, bits).
  const send = role === 'server' ? server : client;
  const recv = role === 'server' ? client : server;
  return (send === 0 ? 0 : 1 << sendWindowBits(Math.log2(send))) + recv;
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
  /** Set when `shareable`: peers with the same key accept the same stateless payload (window bits, level, memLevel). */
  readonly shareKey: string | null;
  readonly #cfg: ResolvedCompression;
  readonly #sender: DeflateSender;
  readonly #recvKeep: number;
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
    this.shareKey = sendNoContext ? `${sendWindowBits(this.sendWindowBits)}/${cfg.level}/${cfg.memLevel}` : null;
    this.#sender = new DeflateSender(this.sendWindowBits, !sendNoContext, cfg);
    // The peer's references reach at most 2^recvBits back.
    this.#recvKeep = recvNoContext ? 0 : 1 << Math.max(MIN_WINDOW_BITS, recvBits);
  }

  /** Whether a message of `length` bytes should be compressed; `explicit` is the sender's per-message choice. */
  shouldCompress(length: number, explicit: boolean | undefined): boolean {
    return explicit ?? length >= this.threshold;
  }

  /**
   * A payload without context, made with this connection's settings, to be written to every peer of the same
   * `shareKey` (see PreparedMessage). Synchronous or on the threadpool, by size.
   */
  compressStateless(data: Buffer): Buffer | Promise<Buffer> {
    // With context takeover the peer would add this message to its window but we would not: later messages corrupt.
    if (!this.shareable) throw new TypeError('compressStateless() needs no context takeover on the sending side');
    return deflateMessage(data, this.sendWindowBits, this.#cfg, EMPTY);
  }

  /** Bytes currently held in the two windows (bounded by `retainedWindowBytes(params, role)`). */
  get retainedBytes(): number {
    return this.#sender.retainedBytes + this.#recvWindow.length;
  }

  /**
   * §7.2.1: the payload of a message to send with RSV1 set, sync-flush tail removed; a promise for a large message
   * (compressed on the threadpool). With `commit` false the message does not enter the window yet: call
   * `commitSent(data)` once it is certain to be written, since a compressed message the peer never receives must not
   * be referred back to (§7.2.3).
   */
  compress(data: Buffer, commit = true): Buffer | Promise<Buffer> {
    const payload = this.#sender.compress(data);
    if (commit) this.commitSent(data);
    return payload;
  }

  /** Adds a message compressed with `compress(data, false)` to the sending window. */
  commitSent(data: Buffer): void {
    this.#sender.commit(data);
  }

  /** The next piece of a streamed message (see DeflateSender.streamChunk). */
  compressPiece(piece: Buffer, last: boolean): Buffer | Promise<Buffer> {
    return this.#sender.streamChunk(piece, last);
  }

  abortStream(): void {
    this.#sender.abortStream();
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
