// permessage-deflate for one connection (RFC 7692 §7.2): what it negotiated, its sending half (deflate-sender.ts: a
// pooled live zlib stream while busy, else one-shot zlib with the retained window as dictionary, large messages on the
// threadpool) and its receiving half
// (inflate.ts: our own inflater, whose sliding window carries context takeover from message to message).
import { ProtocolError } from '../errors.js';
import { CloseCode } from '../protocol/constants.js';
import { type DeflateParams, MIN_WINDOW_BITS, type ResolvedCompression } from './deflate-negotiation.js';
import { DeflateSender, sendWindowBits } from './deflate-sender.js';
import { InflateError, InflateLimitError, Inflater, type InflateStatus } from './inflate.js';

export * from './deflate-negotiation.js';

/*
 * Sending: LZ77 back-references can only reach the last 2^windowBits bytes, so a fresh raw deflate primed with those
 * bytes (or only their end, deflate-sender.ts) refers to nothing but what the peer's window holds: byte-compatible with
 * a peer that keeps one stream (ws, browsers). Priming costs time in proportion to the dictionary (a 2 KiB JSON
 * message: 37 µs one-shot, 20 µs live, in bench/threshold-micro.ts), so a connection that keeps sending gets a live zlib stream from a process-wide pool
 * (live-deflate.ts: at most 512, closed after 5–10 s unused, or once so many others compress that its state has left
 * the CPU's cache and priming is cheaper); idle connections keep only the window. Our compressor never looks back
 * more than 8 KiB (2^13), whatever window was negotiated (a window is a maximum, RFC 7692 §7.1.2).
 *
 * Receiving: our inflater decodes straight against its window, with nothing to prime, so a tiny message costs about
 * what it costs uncompressed; it inflates as fragments arrive, in slices, and stops at the size limit.
 *
 * Retained memory per connection (allocated on the first compressed message; a one-shot call's zlib state is freed
 * when it returns, and a live compressor's, ~126 KiB, when the connection closes or stays idle for a sweep period):
 *   dedicated, default 15/15 bits:  8 KiB sent + 32 KiB received = 40 KiB (2^min(13, bits) + 2^peerBits in general)
 *   shared:                         0 sent + 32 KiB received = 32 KiB (0 if the client offers client_no_context_takeover)
 *   no compression:                 0
 */
export const RETAINED_BYTES_PER_CONNECTION = {
  dedicated: (1 << 13) + (1 << 15),
  shared: 1 << 15,
  none: 0,
} as const;

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
  // Made on first use: most connections that negotiate compression sit idle, and each half costs heap (~1 KiB
  // together) before it has done anything.
  #sender: DeflateSender | null = null;
  #inflater: Inflater | null = null;
  readonly #sendContext: boolean;
  readonly #recvWindowBits: number;
  readonly #recvContext: boolean;

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
    this.#sendContext = !sendNoContext;
    // The peer's references reach at most 2^recvBits back (an 8-bit zlib peer really uses 9 bits, but never a
    // distance above 2^9 − 262, which fits in 8).
    this.#recvWindowBits = Math.max(MIN_WINDOW_BITS, recvBits);
    this.#recvContext = !recvNoContext;
  }

  get #send(): DeflateSender {
    this.#sender ??= new DeflateSender(this.sendWindowBits, this.#sendContext, this.#cfg);
    return this.#sender;
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
    return this.#send.compressStateless(data);
  }

  /** Bytes currently held in the two windows (bounded by `retainedWindowBytes(params, role)`). */
  get retainedBytes(): number {
    return (this.#sender?.retainedBytes ?? 0) + (this.#inflater?.retainedBytes ?? 0);
  }

  /**
   * §7.2.1: the payload of a message to send with RSV1 set, sync-flush tail removed; a promise for a large message
   * (compressed on the threadpool). With `commit` false the message does not enter the window yet: call
   * `commitSent(data)` once it is certain to be written, since a compressed message the peer never receives must not
   * be referred back to (§7.2.3).
   */
  compress(data: Buffer, commit = true): Buffer | Promise<Buffer> {
    const payload = this.#send.compress(data);
    if (commit) this.commitSent(data);
    return payload;
  }

  /** Adds a message compressed with `compress(data, false)` to the sending window. */
  commitSent(data: Buffer): void {
    this.#send.commit(data);
  }

  /** The next piece of a streamed message (see DeflateSender.streamChunk). */
  compressPiece(piece: Buffer, last: boolean): Buffer | Promise<Buffer> {
    return this.#send.streamChunk(piece, last);
  }

  abortStream(): void {
    this.#sender?.abortStream();
  }

  /** The connection closed: a live compressor it holds is released at once rather than at the next idle sweep. */
  dispose(): void {
    this.#sender?.dispose();
  }

  /** §7.2.2: a received RSV1 message begins; its inflated size may not exceed `maxSize`. */
  beginInflate(maxSize: number): void {
    this.#inflater ??= new Inflater({ windowBits: this.#recvWindowBits, contextTakeover: this.#recvContext });
    this.#inflater.begin(maxSize);
  }

  /** Compressed bytes of the message, in order (kept by reference until inflated). */
  pushCompressed(chunk: Buffer): void {
    this.#inflater!.push(chunk);
  }

  /** The message's last compressed bytes were pushed (the 00 00 ff ff tail is implied, §7.2.2). */
  endCompressed(): void {
    this.#inflater!.end();
  }

  /**
   * Inflates what it can within `budget` output bytes, handing the bytes to `onChunk`. Throws ProtocolError 1009 as
   * soon as the output would exceed the message's limit (a bomb is never inflated past it) and 1007 for data that is
   * not valid deflate.
   */
  inflate(budget: number, onChunk: (chunk: Buffer) => void): InflateStatus {
    try {
      return this.#inflater!.run(budget, onChunk);
    } catch (err) {
      if (err instanceof InflateLimitError) throw tooBig(err.limit);
      if (err instanceof InflateError)
        throw new ProtocolError('ERR_INVALID_COMPRESSED_DATA', `Invalid compressed data: ${err.message}`, {
          closeCode: CloseCode.InvalidPayload,
        });
      throw err;
    }
  }

  /** A whole received message at once (its payload or its fragments' payloads in order), for tools and tests. */
  decompress(payload: Buffer | readonly Buffer[], maxSize: number): Buffer {
    if (!(maxSize >= 0)) throw new RangeError(`maxSize must be a non-negative number, got ${maxSize}`);
    this.beginInflate(maxSize);
    for (const p of Buffer.isBuffer(payload) ? [payload] : payload) this.pushCompressed(p);
    this.endCompressed();
    const out: Buffer[] = [];
    const status = this.inflate(Number.MAX_SAFE_INTEGER, (chunk) => out.push(chunk));
    if (status !== 'done') throw new Error(`inflate ended with ${status}`);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

function tooBig(maxSize: number): ProtocolError {
  return new ProtocolError('ERR_MESSAGE_TOO_BIG', `Decompressed message exceeds the limit of ${maxSize} bytes`, {
    closeCode: CloseCode.MessageTooBig,
  });
}
