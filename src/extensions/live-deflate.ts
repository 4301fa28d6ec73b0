// Live compressors for context takeover (RFC 7692 §7.2.1): one zlib deflate stream kept open per busy
// connection and flushed synchronously per message, so nothing is primed per message; a process-wide pool caps how
// many exist and closes those left unused, after which a connection falls back to one-shot calls primed with its window.
import { constants as zlibConstants, DeflateRaw } from 'node:zlib';
import { type Clock, systemClock } from '../clock.js';

/**
 * The most live compressors one process keeps. Each holds zlib's deflate state (126 KiB of RSS in bench/threshold-micro.ts at
 * windowBits 13 / memLevel 8 once its window is full, ~166 KiB at most), so the cap bounds them to ~63–83 MiB;
 * connections beyond it compress with one-shot calls, which cost more CPU but nothing when idle.
 */
export const MAX_LIVE_COMPRESSORS = 512;
/**
 * A compressor unused for a whole sweep period is closed: it is released 5–10 s after its connection's last
 * compressed message, so a connection that sends now and then costs one zlib state's priming per burst, not 126 KiB
 * for ever.
 */
export const LIVE_SWEEP_MS = 5000;
/*
 * A live compressor saves zlib's priming only while its state (a 64 KiB hash table, window and chains) is still in the
 * CPU's cache. Each message compressed elsewhere in between evicts some of it, and one of 2 KiB already touches most
 * of its own hash table, so the pool's traffic counts each message up to COLD_MESSAGE_BYTES. A message of at least
 * COLD_MESSAGE_BYTES sent after more than COLD_GAP_BYTES of traffic since the connection's last one goes one-shot and
 * releases the connection's compressor: priming a fresh, hot state costs less than the misses, and holds no state
 * between messages. Smaller messages touch less of the state and keep a compressor they hold. Only a message within
 * WARM_GAP_BYTES takes one. The band between is wide because the gap one connection sees varies from message to
 * message (others may be answered twice while it waits): a narrow band (64/96 KiB) cost 16 % more CPU and 25 % more
 * RSS than always-live over 30 connections, whose mean gap (58 KiB) sits below both, most likely by opening and
 * closing streams on the outliers. Measured in the demo server (2 KiB JSON
 * echo both ways, always-live against always-one-shot, µs of server CPU per echo): over 50 connections 49.5 against
 * 65.2, over 100 75.3 against 74.0, over 200 73.4 against 70.2 (and 289 against 221 KiB of RSS per connection), over
 * 400 75.7 against 69.0; in isolation (bench/live-cache-micro.ts) it crosses near 100 too. So a compressor is taken
 * below ~64 busy connections of 2 KiB and released beyond ~192. Figures and commands:
 * bench/results/2026-12-02-live-ab.md.
 */
export const WARM_GAP_BYTES = 128 * 1024;
export const COLD_GAP_BYTES = 384 * 1024;
export const COLD_MESSAGE_BYTES = 2 * 1024;

/** The part of node's zlib handle used here: synchronous writes into a caller's buffer, results in `writeState`. */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Buffer,
    inOff: number,
    inLen: number,
    out: Buffer,
    outOff: number,
    outLen: number,
  ): void;
}
interface ZlibInternals {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
}

/*
 * Node documents no synchronous flush of a zlib stream; its own one-shot *Sync functions write through the stream's
 * handle as done here (`handle.writeSync` leaves avail_out, avail_in in `_writeState`), present from Node 10 to 26.
 * Checked once at load: without it there are no live compressors and every message takes the one-shot path.
 */
const supported = ((): boolean => {
  try {
    const probe = new DeflateRaw() as unknown as ZlibInternals & DeflateRaw;
    const ok = typeof probe._handle?.writeSync === 'function' && probe._writeState instanceof Uint32Array;
    probe.close();
    return ok;
  } catch {
    return false;
  }
})();

/** Output lands here first (a message is compressed and copied out before anything else runs): one buffer per process. */
const scratch = Buffer.allocUnsafeSlow(64 * 1024);

export interface LiveOptions {
  windowBits: number;
  level: number;
  memLevel: number;
  /** The window so far, when the connection already sent compressed messages (zlib copies it). */
  dictionary: Buffer;
}

/** One open deflate stream. compress() returns a message's payload with the sync-flush tail still on. */
export class LiveDeflate {
  #zlib: (ZlibInternals & DeflateRaw) | null;
  /** Set by each compress(), cleared by each sweep: a compressor found unset is idle. */
  used = true;

  constructor(options: LiveOptions) {
    const z = new DeflateRaw({
      windowBits: options.windowBits,
      level: options.level,
      memLevel: options.memLevel,
      // Output goes to the shared scratch, never to the stream's own buffer: the smallest one zlib allows, not 16 KiB.
      chunkSize: zlibConstants.Z_MIN_CHUNK,
      ...(options.dictionary.length > 0 ? { dictionary: options.dictionary } : {}),
    }) as unknown as ZlibInternals & DeflateRaw;
    // zlib reports a failure by destroying the stream, whose 'error' would otherwise be unhandled.
    z.on('error', () => {});
    this.#zlib = z;
  }

  get closed(): boolean {
    return this.#zlib === null;
  }

  /** Deflates `data` (non-empty) with Z_SYNC_FLUSH; throws if zlib failed, after which the compressor is closed. */
  compress(data: Buffer): Buffer {
    const z = this.#zlib;
    const handle = z?._handle;
    if (!z || !handle) throw new Error('live compressor is closed');
    this.used = true;
    const state = z._writeState;
    const parts: Buffer[] = [];
    let inOff = 0;
    let inLen = data.length;
    for (;;) {
      handle.writeSync(zlibConstants.Z_SYNC_FLUSH, data, inOff, inLen, scratch, 0, scratch.length);
      if (z.destroyed) {
        this.close();
        throw new Error('zlib failed while compressing');
      }
      const availOut = state[0]!;
      const availIn = state[1]!;
      inOff += inLen - availIn;
      inLen = availIn;
      // Copied out: the socket may hold the payload after this returns, and the next message reuses the scratch.
      const out = Buffer.allocUnsafe(scratch.length - availOut);
      scratch.copy(out, 0, 0, out.length);
      // zlib stops early only when the output buffer filled; otherwise all input is consumed and flushed.
      if (availOut !== 0) return parts.length === 0 ? out : Buffer.concat([...parts, out]);
      parts.push(out);
    }
  }

  close(): void {
    this.#zlib?.close();
    this.#zlib = null;
  }
}

/** Hands out at most `max` live compressors and closes the ones left unused for a sweep period. */
export class LiveDeflatePool {
  readonly max: number;
  readonly #clock: Clock;
  readonly #live = new Set<LiveDeflate>();
  #timer: unknown = null;
  /**
   * Bytes compressed so far by every sender drawing from this pool, live or not, each message counted up to
   * COLD_MESSAGE_BYTES: a clock of cache traffic. (Counting one-shot calls as a whole state swept would be closer,
   * but would keep a busy server of small messages one-shot for ever: none would ever look warm enough to take one.)
   * A double: adding at most 2 KiB per message stays exact for 2^53 bytes, decades at any real rate.
   */
  #traffic = 0;

  constructor(max = supported ? MAX_LIVE_COMPRESSORS : 0, clock: Clock = systemClock) {
    this.max = max;
    this.#clock = clock;
  }

  get size(): number {
    return this.#live.size;
  }

  get traffic(): number {
    return this.#traffic;
  }

  /** A sender compressed a message (or a piece) of `bytes`, by whatever path. */
  count(bytes: number): void {
    this.#traffic += Math.min(bytes, COLD_MESSAGE_BYTES);
  }

  /** Whether a sender whose last message was `gap` bytes of traffic ago may take a compressor: it is warm. */
  mayTake(gap: number): boolean {
    return gap <= WARM_GAP_BYTES;
  }

  /** Whether a sender holding one keeps using it for a message of `length` bytes: not cold, or too small to miss much. */
  mayKeep(length: number, gap: number): boolean {
    return length < COLD_MESSAGE_BYTES || gap <= COLD_GAP_BYTES;
  }

  /** A new live compressor, or null when the pool is full (the caller then compresses one-shot). */
  acquire(options: LiveOptions): LiveDeflate | null {
    if (this.#live.size >= this.max) return null;
    const live = new LiveDeflate(options);
    this.#live.add(live);
    this.#timer ??= this.#clock.setTimeout(this.#sweep, LIVE_SWEEP_MS);
    return live;
  }

  release(live: LiveDeflate): void {
    live.close();
    this.#live.delete(live);
  }

  #sweep = (): void => {
    this.#timer = null;
    for (const live of this.#live) {
      if (live.used) live.used = false;
      else this.release(live);
    }
    if (this.#live.size > 0) this.#timer = this.#clock.setTimeout(this.#sweep, LIVE_SWEEP_MS);
  };
}

/** The pool every connection of this process draws from. */
export const livePool = new LiveDeflatePool();
