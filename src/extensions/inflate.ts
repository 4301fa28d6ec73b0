// A raw DEFLATE decoder (RFC 1951) for permessage-deflate (RFC 7692 §7.2.2): a sliding window kept across messages,
// input taken in pieces split anywhere, bounded work per call, an exact output limit, output delivered in chunks.
import { decodeCodes, MAX_MATCH, SYMBOL_INPUT_BYTES } from './inflate-codes.js';
import { InflateError, InflateLimitError } from './inflate-errors.js';
import { readDynamicHeader } from './inflate-header.js';
import { InflateState, MAX_HEADER_BYTES, truncated } from './inflate-state.js';
import {
  acquireTables,
  FIXED_DIST,
  FIXED_DIST_BITS,
  FIXED_LIT,
  FIXED_LIT_BITS,
  releaseTables,
  TABLE_SET_BYTES,
  type TableSet,
} from './inflate-tables.js';
import { SlidingWindow } from './inflate-window.js';

export { InflateError, InflateLimitError } from './inflate-errors.js';

/**
 * Options of an Inflater: the peer's negotiated window for our receiving direction (RFC 7692 §7.1.2) and whether its
 * back-references may reach into earlier messages (§7.1.1).
 */
export interface InflaterOptions {
  /** The sender's window, 8..15 (RFC 7692 §7.1.2). */
  windowBits?: number;
  /** Whether back-references may reach into earlier messages (§7.1.1). */
  contextTakeover?: boolean;
}

export const DEFAULT_INFLATER_OPTIONS = { windowBits: 15, contextTakeover: true } as const;

export type InflateStatus = 'need-input' | 'budget' | 'done';

/** Budget units charged per stored or fixed block header, and per dynamic one (which builds tables). */
export const BLOCK_COST = 64;
export const DYNAMIC_BLOCK_COST = 1024;

const Mode = {
  Idle: 0,
  Header: 1,
  StoredLength: 2,
  Stored: 3,
  DynamicHeader: 4,
  Codes: 5,
  Done: 6,
  Failed: 7,
} as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/*
 * The buffer all inflaters decode into, one call at a time: HISTORY bytes of what this call decoded before (once it
 * has), then OUT_BYTES of new output. Matches reaching into it are plain copies; only those reaching further, into
 * what earlier calls decoded, read the sliding window. When it fills, the new output is delivered and the last
 * HISTORY bytes slide to the front. Chunks are copies of exactly their size: no caller holds this buffer.
 */
const HISTORY = 1 << 15;
const OUT_BYTES = 128 * 1024;
const WORK_BYTES = HISTORY + OUT_BYTES;
/** The last position a symbol may start at: it writes at most MAX_MATCH bytes. */
const OUT_STOP = WORK_BYTES - MAX_MATCH + 1;
let work: Buffer | null = null;
const SYNC_TAIL_BITS = 32;
/** Up to this many bytes a loop copies faster than a call into Buffer.copy. */
const SMALL_COPY = 64;
/** Fewer tail bits left than this and a header would read its ff bytes: zlib then sees block type 3, as we do. */
const MIN_TAIL_LEFT = 19;
/** The header of an empty stored block, completed by the sync tail. */
const EMPTY_BLOCK_START = Buffer.from([0x00]);

/**
 * A raw DEFLATE decoder for one connection's received messages. One message at a time:
 *
 * ```ts
 * const inf = new Inflater({ windowBits: 15, contextTakeover: true });
 * inf.begin(maxMessageBytes);            // a new message
 * inf.push(payloadPiece);                // as pieces arrive, split anywhere (read in place until consumed)
 * inf.end();                             // after the last piece: the 00 00 ff ff tail is appended (§7.2.2)
 * let status = inf.run(budget, onChunk); // 'need-input' | 'budget' | 'done'
 * ```
 *
 * `run` decodes until the input runs out ('need-input': push more or end(); the last few bytes pushed may wait for
 * more, a symbol can span them), `budget` is spent ('budget': call again, e.g. on the next event-loop turn) or the
 * message is complete ('done': only after end(); begin() the next). Before it returns it hands every byte decoded so
 * far to `onChunk`, in order, as Buffers of exactly their size that it never touches again (copies, never views of
 * its own buffers), each at most 128 KiB: a message decoded in one call comes out as one Buffer if no bigger.
 * `onChunk` must not call back into this inflater. A budget unit is an output byte; each block header also costs
 * BLOCK_COST (DYNAMIC_BLOCK_COST for a dynamic one, which builds tables) so a stream of empty blocks cannot run
 * unbounded. One call delivers at most budget + 257 bytes (a match is not split).
 *
 * Errors: InflateError for data that is not valid DEFLATE or ends mid-block (also a distance beyond the window or
 * beyond the history held), InflateLimitError as soon as the message's output would exceed `maxOutput` (at most 257
 * bytes past the limit are decoded, into the work buffer, and none is delivered). After either every call throws.
 * Read as zlib reads them: a payload of no bytes (an empty message), a sender that kept its own sync tail or ended
 * with a partial flush, a BFINAL block ending the message early (the bytes after it are ignored).
 *
 * Window: 2^windowBits bytes (8..15), allocated when a message first needs it. With context takeover it carries
 * every message's last bytes to the next, BFINAL or not; without, each message starts empty and the ring is freed
 * when it ends (it exists only while a message spans calls). A distance is valid up to min(2^windowBits, history
 * held); zlib with windowBits 15 also accepts a distance beyond 2^windowBits inside one message — a peer exceeding its
 * negotiated window — which this decoder rejects whatever the chunking (construct it with 15 to accept it).
 *
 * Memory: `retainedBytes` per inflater (the window, plus one table set while a dynamic block is in progress).
 * Shared by all inflaters of the process: a 160 KiB work buffer, a 4.4 KiB input stitch buffer, up to 8 free table
 * sets of 13 KiB.
 */
export class Inflater {
  readonly windowBits: number;
  readonly contextTakeover: boolean;
  readonly #s: InflateState;
  readonly #window: SlidingWindow;
  #mode: Mode = Mode.Idle;
  /** The current block has BFINAL set. */
  #final = false;
  #storedLeft = 0;
  #tables: TableSet | null = null;
  #limit = 0;
  /** Some compressed byte of this message was pushed. */
  #pushed = false;
  /** Output bytes of this message delivered so far. */
  #total = 0;
  /** Budget spent in this call by delivered output and block headers. */
  #spent = 0;
  /** Where the output not yet delivered starts in the work buffer. */
  #emitFrom = 0;
  /** This call's output, delivered just before it returns (reused from call to call). */
  readonly #chunks: Buffer[] = [];
  /** Delivering: the callback must not re-enter. */
  #running = false;

  constructor(options: InflaterOptions = {}) {
    const {
      windowBits = DEFAULT_INFLATER_OPTIONS.windowBits,
      contextTakeover = DEFAULT_INFLATER_OPTIONS.contextTakeover,
    } = options;
    if (!Number.isInteger(windowBits) || windowBits < 8 || windowBits > 15) {
      throw new RangeError(`windowBits must be an integer from 8 to 15, got ${windowBits}`);
    }
    if (typeof contextTakeover !== 'boolean') {
      throw new TypeError(`contextTakeover must be a boolean, got ${typeof contextTakeover}`);
    }
    this.windowBits = windowBits;
    this.contextTakeover = contextTakeover;
    this.#window = new SlidingWindow(windowBits);
    this.#s = new InflateState(this.#window);
  }

  /** Bytes this inflater holds: the window once allocated, plus a table set while a dynamic block is in progress. */
  get retainedBytes(): number {
    return this.#window.allocated + (this.#tables === null ? 0 : TABLE_SET_BYTES);
  }

  /** Starts a message whose output may be at most `maxOutput` bytes (Infinity for no limit). */
  begin(maxOutput: number): void {
    this.#check();
    if (this.#mode !== Mode.Idle) throw new Error('Inflater.begin(): the previous message is not finished');
    if (typeof maxOutput !== 'number' || !(maxOutput >= 0)) {
      throw new RangeError(`maxOutput must be a non-negative number, got ${maxOutput}`);
    }
    this.#limit = Math.floor(maxOutput);
    this.#total = 0;
    this.#final = false;
    this.#pushed = false;
    this.#mode = Mode.Header;
    if (!this.contextTakeover) this.#window.clear();
  }

  /** Adds compressed bytes of the current message; the inflater reads them in place until consumed. */
  push(chunk: Uint8Array): void {
    this.#busy('push');
    // After a BFINAL block the rest of the message is ignored.
    if (this.#mode !== Mode.Done) this.#s.push(chunk);
    if (chunk.length > 0) this.#pushed = true;
  }

  /** The current message's last compressed bytes have been pushed. */
  end(): void {
    this.#busy('end');
    if (this.#s.ended) throw new Error('Inflater.end(): called twice for one message');
    // A compressed message with no bytes at all is not the §7.2.3.6 form (00) but zlib reads it as empty; so do we.
    if (!this.#pushed) this.#s.push(EMPTY_BLOCK_START);
    this.#s.end();
  }

  /** Decodes until input runs out, `budget` is spent or the message is done; see the interface notes above. */
  run(budget: number, onChunk: (chunk: Buffer) => void): InflateStatus {
    this.#busy('run');
    if (!Number.isInteger(budget) || budget < 1)
      throw new RangeError(`budget must be a positive integer, got ${budget}`);
    const s = this.#s;
    work ??= Buffer.allocUnsafeSlow(WORK_BYTES);
    s.out = work;
    s.pos = HISTORY;
    s.histStart = HISTORY;
    this.#emitFrom = HISTORY;
    this.#spent = 0;
    let status: InflateStatus;
    try {
      status = this.#decode(budget);
    } catch (err) {
      // A fault found after reading past the real end is the stream being cut short, whatever the bits said.
      const cut = err instanceof InflateError && s.overran;
      this.#fail();
      throw cut ? truncated() : err;
    }
    const chunks = this.#chunks;
    this.#running = true;
    try {
      for (const chunk of chunks) onChunk(chunk);
    } finally {
      chunks.length = 0;
      this.#running = false;
    }
    return status;
  }

  #decode(budget: number): InflateStatus {
    const s = this.#s;
    for (;;) {
      switch (this.#mode) {
        case Mode.Header: {
          if (s.exhausted) return this.#finish();
          // A block boundary inside our tail, or at most 2 bits before it: the sender kept its own sync tail, or
          // ended with a partial or block flush whose last code the tail's zeros completed. What is left of the tail
          // cannot make a block and zlib ignores it (it reads a stored header it cannot complete); so do we.
          if (s.ended && s.bitsLeft >= MIN_TAIL_LEFT && s.bitsLeft <= SYNC_TAIL_BITS + 2) return this.#finish();
          if (this.#spent + s.pos - this.#emitFrom >= budget) return this.#stop('budget');
          if (s.bits < 3) {
            if (!s.ensure(1)) return this.#stop('need-input');
            s.hold |= s.inp[s.ip++]! << s.bits;
            s.bits += 8;
          }
          const header = s.hold & 7;
          s.hold >>>= 3;
          s.bits -= 3;
          if (s.overran) throw truncated();
          this.#final = (header & 1) === 1;
          const type = header >>> 1;
          if (type === 0) {
            this.#mode = Mode.StoredLength;
          } else if (type === 1) {
            s.lit = FIXED_LIT;
            s.litMask = (1 << FIXED_LIT_BITS) - 1;
            s.dist = FIXED_DIST;
            s.distMask = (1 << FIXED_DIST_BITS) - 1;
            this.#mode = Mode.Codes;
          } else if (type === 2) {
            this.#mode = Mode.DynamicHeader;
          } else {
            throw new InflateError('Invalid block type 3');
          }
          this.#spent += type === 2 ? DYNAMIC_BLOCK_COST : BLOCK_COST;
          break;
        }
        case Mode.StoredLength: {
          // RFC 1951 §3.2.4: to the next byte boundary, then LEN and its one's complement NLEN.
          s.hold >>>= s.bits & 7;
          s.bits -= s.bits & 7;
          if (!s.ensure(4)) return this.#stop('need-input');
          const len = this.#take16();
          const nlen = this.#take16();
          if (s.overran) throw truncated();
          if (len !== (~nlen & 0xffff)) {
            throw new InflateError(`Invalid stored block: LEN ${len} is not the complement of NLEN ${nlen}`);
          }
          this.#storedLeft = len;
          this.#mode = Mode.Stored;
          break;
        }
        case Mode.Stored: {
          const status = this.#copyStored(budget);
          if (status !== null) return status;
          break;
        }
        case Mode.DynamicHeader: {
          if (!s.ensure(MAX_HEADER_BYTES)) return this.#stop('need-input');
          this.#tables ??= acquireTables();
          readDynamicHeader(s, this.#tables);
          if (s.overran) throw truncated();
          this.#mode = Mode.Codes;
          break;
        }
        case Mode.Codes: {
          if (s.pos >= OUT_STOP) this.#slide();
          const limitEnd = this.#emitFrom + this.#limit - this.#total;
          const outStop = Math.min(OUT_STOP, limitEnd + 1, this.#emitFrom + budget - this.#spent);
          if (s.pos >= outStop) return this.#stop('budget');
          let inStop: number;
          if (!s.padded) inStop = s.inEnd - SYMBOL_INPUT_BYTES;
          // Near the real end, one symbol at a time once reads reach the padding, so a cut stream shows at once.
          else inStop = s.ip <= s.inLen ? s.inLen + 1 : s.ip + 1;
          if (s.ip >= inStop) {
            if (!s.ensure(SYMBOL_INPUT_BYTES + 1)) return this.#stop('need-input');
            break;
          }
          const endOfBlock = decodeCodes(s, inStop, outStop);
          if (s.overran) throw truncated();
          if (s.pos > limitEnd) throw new InflateLimitError(this.#limit);
          if (endOfBlock) this.#endBlock();
          break;
        }
        case Mode.Done:
          // A BFINAL block ended the stream; the message is over once end() says so.
          return s.ended ? this.#finish() : this.#stop('need-input');
        default:
          throw new Error(`Inflater in an impossible state ${this.#mode}`);
      }
    }
  }

  #take16(): number {
    const s = this.#s;
    while (s.bits < 16) {
      s.hold |= s.inp[s.ip++]! << s.bits;
      s.bits += 8;
    }
    const v = s.hold & 0xffff;
    s.hold >>>= 16;
    s.bits -= 16;
    return v;
  }

  /** Copies a stored block's bytes; null when the block is complete, else why the call stops. */
  #copyStored(budget: number): InflateStatus | null {
    const s = this.#s;
    while (this.#storedLeft > 0) {
      if (s.pos === WORK_BYTES) this.#slide();
      const pending = s.pos - this.#emitFrom;
      const room = Math.min(this.#storedLeft, WORK_BYTES - s.pos, budget - this.#spent - pending);
      if (room <= 0) return this.#stop('budget');
      if (pending + room > this.#limit - this.#total) throw new InflateLimitError(this.#limit);
      let n = 0;
      // Whole bytes already in the bit buffer come first.
      for (; n < room && s.bits >= 8; n++) {
        s.out[s.pos++] = s.hold & 0xff;
        s.hold >>>= 8;
        s.bits -= 8;
      }
      if (s.overran) throw truncated();
      const got = s.copyBytes(s.out, s.pos, room - n);
      s.pos += got;
      this.#storedLeft -= n + got;
      if (n + got < room) {
        if (s.ended) throw truncated();
        return this.#stop('need-input');
      }
    }
    this.#endBlock();
    return null;
  }

  #endBlock(): void {
    this.#mode = this.#final ? Mode.Done : Mode.Header;
  }

  /** Delivers the output decoded since the last delivery, as a Buffer of its own. */
  #emit(): void {
    const s = this.#s;
    const n = s.pos - this.#emitFrom;
    if (n === 0) return;
    const chunk = Buffer.allocUnsafe(n);
    const out = s.out as Buffer;
    if (n <= SMALL_COPY) for (let i = 0, from = this.#emitFrom; i < n; i++) chunk[i] = out[from + i]!;
    else out.copy(chunk, 0, this.#emitFrom, s.pos);
    this.#emitFrom = s.pos;
    this.#total += n;
    this.#spent += n;
    this.#chunks.push(chunk);
  }

  /** The work buffer is full: deliver, then keep its last HISTORY bytes at the front for the matches to come. */
  #slide(): void {
    this.#emit();
    const s = this.#s;
    const keep = Math.min(HISTORY, s.pos - s.histStart);
    s.out.copyWithin(HISTORY - keep, s.pos - keep, s.pos);
    s.histStart = HISTORY - keep;
    s.pos = HISTORY;
    this.#emitFrom = HISTORY;
  }

  /** The call ends: deliver, and keep what later calls may refer to (unless the message and its context end). */
  #leave(last: boolean): void {
    this.#emit();
    const s = this.#s;
    if (this.contextTakeover || !last) {
      this.#window.append(s.out, Math.max(s.histStart, s.pos - this.#window.size), s.pos);
    }
  }

  #stop(status: InflateStatus): InflateStatus {
    this.#leave(false);
    this.#s.detach();
    return status;
  }

  #finish(): InflateStatus {
    const s = this.#s;
    if (s.overran) throw truncated();
    this.#leave(true);
    s.reset();
    this.#releaseMessage();
    this.#mode = Mode.Idle;
    return 'done';
  }

  #releaseMessage(): void {
    if (this.#tables !== null) releaseTables(this.#tables);
    this.#tables = null;
    if (!this.contextTakeover) this.#window.release();
  }

  #fail(): void {
    this.#s.reset();
    this.#releaseMessage();
    this.#window.release();
    this.#chunks.length = 0;
    this.#mode = Mode.Failed;
  }

  #check(): void {
    if (this.#mode === Mode.Failed) throw new InflateError('Inflater failed on an earlier message');
  }

  #busy(method: string): void {
    this.#check();
    if (this.#running) throw new Error(`Inflater.${method}(): called from its own onChunk`);
    if (this.#mode === Mode.Idle) throw new Error(`Inflater.${method}(): begin() a message first`);
  }
}
