// The sending half of permessage-deflate (RFC 7692 §7.2.1): with context takeover (§7.1.1) a busy connection keeps a
// live zlib stream (live-deflate.ts); otherwise one-shot zlib calls primed with the retained window as the preset
// dictionary. Small messages synchronously, large ones on zlib's threadpool; one message streamed in pieces (a
// writer()) as a sequence of sync-flushed chunks.
import { constants as zlibConstants, deflateRawSync, type ZlibOptions } from 'node:zlib';
import { EMPTY, SYNC_TAIL } from '../protocol/constants.js';
import type { ResolvedCompression } from './deflate-negotiation.js';
import { type LiveDeflate, type LiveDeflatePool, livePool } from './live-deflate.js';
import { deflateRawAsync } from './zlib-jobs.js';

/**
 * Messages up to this size are deflated on the event loop (~1–2 ms for 64 KiB at level 6 here); larger ones on
 * zlib's threadpool, so no outgoing message holds the loop for long.
 */
export const SYNC_DEFLATE_MAX = 64 * 1024;
/** zlib rejects windowBits 8 for raw deflate, but never emits a distance above 2^w − 262, so 9 suits an 8-bit peer. */
const MIN_DEFLATE_WINDOW_BITS = 9;
/**
 * The most history our compressor uses: 8 KiB. Priming zlib costs time in proportion to the dictionary, and on a
 * stream of ~1 KiB JSON messages 8 KiB compressed to 108 bytes in 20 µs where 32 KiB gave 113 bytes in 64 µs. A window
 * is a maximum (RFC 7692 §7.1.2), so a peer that allowed 32 KiB accepts this.
 */
const MAX_DEFLATE_WINDOW_BITS = 13;

export function sendWindowBits(bits: number): number {
  return Math.min(MAX_DEFLATE_WINDOW_BITS, Math.max(MIN_DEFLATE_WINDOW_BITS, bits));
}

/** The last `keep` bytes of `window` followed by `data`, in a buffer of its own (never a pooled slab or the caller's). */
export function slide(window: Buffer, data: Buffer, keep: number): Buffer {
  // Once full, the window is reused in place (zlib copies a dictionary, so changing it later is safe): no allocation
  // per message.
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
 * Options of a one-shot call on `input` bytes. zlib writes into chunkSize buffers and a synchronous result is a view
 * of the first: sized to the input (compressed output rarely exceeds it, and then comes in two pieces, still whole)
 * instead of zlib's 16 KiB, so a 2 KiB message does not keep 16 KiB alive until the socket has written it.
 */
function zlibOptions(windowBits: number, cfg: ResolvedCompression, dictionary: Buffer, input: number): ZlibOptions {
  const options: ZlibOptions = {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
    windowBits: sendWindowBits(windowBits),
    level: cfg.level,
    memLevel: cfg.memLevel,
    chunkSize: Math.min(zlibConstants.Z_DEFAULT_CHUNK, Math.max(zlibConstants.Z_MIN_CHUNK, input + ONE_SHOT_SLACK)),
  };
  if (dictionary.length > 0) options.dictionary = dictionary;
  return options;
}

/** Room past the input for a block header and the sync-flush tail, so an output as large as its input is one piece. */
const ONE_SHOT_SLACK = 64;

/** §7.2.1 step 3: removes the 4-octet tail. An empty message leaves the single byte 00 (§7.2.3.6). */
function stripTail(out: Buffer): Buffer {
  const end = out.length - SYNC_TAIL.length;
  // Byte by byte: no views made on the send path just to check four bytes.
  if (end < 0 || out[end] !== 0 || out[end + 1] !== 0 || out[end + 2] !== 0xff || out[end + 3] !== 0xff) {
    throw new Error('zlib output did not end with a sync flush');
  }
  return out.subarray(0, end);
}

/*
 * A one-shot call is primed with only the end of the window: zlib hashes every dictionary byte, so the whole 8 KiB
 * cost a 2 KiB message 5–9 µs more than its last 4 KiB, and a 128 B message twice its own cost, for under 1 % of the
 * bytes. The last twice the message's length, and at least ONE_SHOT_MIN_DICTIONARY, keeps nearly all of the gain
 * (bench/dictionary-micro.ts; 9 % less server CPU per 2 KiB echo over 1,000 connections, bench/README.md). Valid
 * whatever is cut: back-references into the primed bytes point at the same bytes in the peer's window, which holds
 * at least as much.
 */
export const ONE_SHOT_MIN_DICTIONARY = 4 * 1024;

/** The end of `window` worth priming a one-shot call on `input` bytes with. */
export function primer(window: Buffer, input: number): Buffer {
  const want = Math.max(ONE_SHOT_MIN_DICTIONARY, 2 * input);
  return want >= window.length ? window : window.subarray(window.length - want);
}

/** A whole message, compressed at once: on the event loop when small, else on the threadpool. */
export function deflateMessage(
  data: Buffer,
  windowBits: number,
  cfg: ResolvedCompression,
  dictionary: Buffer,
): Buffer | Promise<Buffer> {
  const primed = primer(dictionary, data.length);
  const options = zlibOptions(windowBits, cfg, primed, data.length);
  if (data.length <= SYNC_DEFLATE_MAX) return stripTail(deflateRawSync(data, options));
  // The dictionary is copied by zlib when the job starts, but it may wait for a free thread: give it its own copy.
  if (options.dictionary) options.dictionary = Buffer.from(primed);
  return deflateRawAsync(data, options).then(stripTail);
}

/**
 * One connection's sending state: the window of what it sent (context takeover), or nothing (no context takeover).
 * Only messages certain to be written enter the window (commit), since the peer's window holds only what it received.
 *
 * With context takeover, a live compressor from the pool does the work while the connection is busy. Its zlib window
 * must equal the peer's, so it is dropped whenever it saw something the peer will not (a message compressed but never
 * committed) or missed something the peer will (a message compressed elsewhere: on the threadpool, or streamed); the
 * next message then starts a new one primed with `#window`, which is kept up to date either way.
 */
export class DeflateSender {
  readonly windowBits: number;
  readonly #cfg: ResolvedCompression;
  readonly #keep: number;
  readonly #pool: LiveDeflatePool;
  #window: Buffer = EMPTY;
  /** Without context takeover: the window of the message being streamed, which its later pieces may refer to. */
  #streamWindow: Buffer = EMPTY;
  #live: LiveDeflate | null = null;
  /**
   * The pool's traffic just after this sender's last compression. None yet counts as long ago: a first message goes
   * one-shot, so only a connection seen to be busy takes a compressor (a burst of them opened by first messages and
   * closed by second ones left ~30 MiB of fragmented heap over 1,000 connections).
   */
  #mark = Number.NEGATIVE_INFINITY;
  /** The last message compressed is not committed yet: if it still is not at the next compress(), it was refused. */
  #pending = false;
  #disposed = false;

  constructor(
    windowBits: number,
    contextTakeover: boolean,
    cfg: ResolvedCompression,
    pool: LiveDeflatePool = livePool,
  ) {
    this.windowBits = windowBits;
    this.#cfg = cfg;
    this.#keep = contextTakeover ? 1 << sendWindowBits(windowBits) : 0;
    this.#pool = pool;
  }

  get retainedBytes(): number {
    return this.#window.length;
  }

  /** A message's payload, not yet in the window: call commit(data) once it is certain to be written. */
  compress(data: Buffer): Buffer | Promise<Buffer> {
    // A refused message may be in the live compressor's window. Until a message is committed again, one-shot calls:
    // a connection whose sends keep being refused (a slow consumer under 'drop') must not open a stream per message.
    const refused = this.#pending;
    this.#pending = true;
    const gap = this.#count(data.length);
    // Large ones go to the threadpool, past it; one whose compressor went cold in the meantime is cheaper one-shot.
    if (refused || data.length > SYNC_DEFLATE_MAX || !this.#pool.mayKeep(data.length, gap)) this.#dropLive();
    else if (this.#keep > 0 && data.length > 0) {
      // Only a warm message takes a compressor: sizes alternating on a busy server must not open one per message.
      const live = this.#pool.mayTake(gap) ? this.#liveCompressor() : this.#heldLive();
      if (live !== null) {
        try {
          return stripTail(live.compress(data));
        } catch {
          // zlib failed (out of memory, most likely): the one-shot path below still works, or throws its own error.
          this.#dropLive();
        }
      }
    }
    return deflateMessage(data, this.windowBits, this.#cfg, this.#window);
  }

  /** A payload without context, for many peers (see PerMessageDeflate.compressStateless); counted as traffic. */
  compressStateless(data: Buffer): Buffer | Promise<Buffer> {
    this.#count(data.length);
    return deflateMessage(data, this.windowBits, this.#cfg, EMPTY);
  }

  commit(data: Buffer): void {
    this.#pending = false;
    if (this.#keep > 0) this.#window = slide(this.#window, data, this.#keep);
  }

  /**
   * Compresses the next piece of one message given in pieces (a writer()). RFC 7692 §7.2.1 applies to the whole
   * message: each piece is sync-flushed and only the last loses the 00 00 ff ff tail. Pieces refer back to earlier
   * pieces of the same message even without context takeover. They enter the window as they are compressed: a streamed
   * message is never dropped, only failed (and then nothing is sent again).
   */
  streamChunk(piece: Buffer, last: boolean): Buffer | Promise<Buffer> {
    this.#dropLive();
    this.#count(piece.length);
    const own = this.#keep === 0;
    const dictionary = own ? this.#streamWindow : this.#window;
    const primed = primer(dictionary, piece.length);
    const options = zlibOptions(this.windowBits, this.#cfg, primed, piece.length);
    let out: Buffer | Promise<Buffer>;
    if (piece.length <= SYNC_DEFLATE_MAX) {
      const raw = deflateRawSync(piece, options);
      out = last ? stripTail(raw) : raw;
    } else {
      // The window changes below (in place) before the job starts: the job gets its own copy.
      if (options.dictionary) options.dictionary = Buffer.from(primed);
      const raw = deflateRawAsync(piece, options);
      out = last ? raw.then(stripTail) : raw;
    }
    if (own) this.#streamWindow = last ? EMPTY : slide(this.#streamWindow, piece, 1 << sendWindowBits(this.windowBits));
    else this.commit(piece);
    return out;
  }

  /** A streamed message was abandoned: without context takeover, its window is forgotten. */
  abortStream(): void {
    this.#streamWindow = EMPTY;
  }

  /** The connection closed: its live compressor goes back to the pool, and none is taken again. */
  dispose(): void {
    this.#disposed = true;
    this.#dropLive();
  }

  #heldLive(): LiveDeflate | null {
    if (this.#live?.closed) this.#live = null; // swept for idleness
    return this.#live;
  }

  #liveCompressor(): LiveDeflate | null {
    if (this.#heldLive() === null && !this.#disposed) {
      this.#live = this.#pool.acquire({
        windowBits: sendWindowBits(this.windowBits),
        level: this.#cfg.level,
        memLevel: this.#cfg.memLevel,
        dictionary: this.#window,
      });
    }
    return this.#live;
  }

  /**
   * Counts `bytes` compressed into the pool's traffic; returns how much others compressed since this sender last did.
   * An empty message touches nothing of zlib's state, so it does not make a cold compressor look warm.
   */
  #count(bytes: number): number {
    const gap = this.#pool.traffic - this.#mark;
    if (bytes > 0) {
      this.#pool.count(bytes);
      this.#mark = this.#pool.traffic;
    }
    return gap;
  }

  #dropLive(): void {
    if (this.#live === null) return;
    this.#pool.release(this.#live);
    this.#live = null;
  }
}
