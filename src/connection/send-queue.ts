// The outgoing side of a connection (RFC 6455 §5.2–§5.5): frames messages (compressed, masked as the role asks) in
// the order they were sent, keeps the slow-consumer cap, and holds later sends back while the channel is held — by a
// streaming writer (§5.4: nothing may enter a fragmented message) or by a message compressed on the threadpool.
// Writes are batched: the first reply of a read goes straight out, later ones share a writev, and sends outside a read
// are corked to the end of the tick.
import type { Duplex } from 'node:stream';
import { WebSocketError } from '../errors.js';
import { SYNC_DEFLATE_MAX } from '../extensions/deflate-sender.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { EMPTY, Opcode } from '../protocol/constants.js';
import {
  COPY_THRESHOLD,
  encodeFrame,
  encodeTextFrame,
  headerLength,
  nextMaskKey,
  writeHeader,
} from '../protocol/frame-encoder.js';
import type { Stats } from '../stats.js';
import { compressedFrameOf, type PreparedMessage, plainFrameOf, toBuffer } from './prepared-message.js';
import type { FragmentSink, MessageWriter } from './streams.js';
import type { ConnectionLimits } from './types.js';
import { type TickCorked, uncorkAtEndOfTick } from './write-batch.js';

export type SocketLike = Duplex & { writableLength: number; cork(): void; uncork(): void };

/** What the queue needs of its connection. */
export interface SendQueueHost {
  isOpen(): boolean;
  /** The peer is a slow consumer under the 'close' policy: close with 1008. */
  evict(): void;
  /** A writer was destroyed after its first fragment left: nothing valid can follow, close with 1011. */
  abandonMessage(): void;
  /** zlib failed on an outgoing message (it never should): close with 1011. */
  compressionFailed(err: unknown): void;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Held {
  size: number;
  send: () => void;
}

export class SendQueue implements TickCorked, FragmentSink {
  readonly #socket: SocketLike;
  readonly #limits: ConnectionLimits;
  readonly #stats: Stats | null;
  readonly #mask: boolean;
  readonly #deflate: PerMessageDeflate | null;
  readonly #host: SendQueueHost;
  #reading = false;
  #readWrites = 0;
  #tickCorked = false;
  /** Who holds the channel: the open writer, or a message being compressed on the threadpool. */
  #holder: object | null = null;
  #writer: MessageWriter | null = null;
  #writerCompressed = false;
  /**
   * Resumes a writer whose first fragment waits for the channel (a compression held it when writer() was called):
   * true when its turn came, false when it was destroyed first.
   */
  #writerGo: ((go: boolean) => void) | null = null;
  /** Sends made while the channel was held, in order; their bytes count toward the cap. */
  #held: Held[] | null = null;
  #heldBytes = 0;
  /** Bytes of messages being compressed on the threadpool. */
  #compressingBytes = 0;
  #drainWaiters: Waiter[] | null = null;
  /** drained() calls made while the channel was held: they wait for the held sends to be written first. */
  #afterHeld: Waiter[] | null = null;
  #closeWritten = false;
  /** The TCP half-close waits for a close frame held behind a message being compressed. */
  #endOnClose = false;
  #closed = false;

  constructor(
    socket: SocketLike,
    limits: ConnectionLimits,
    stats: Stats | null,
    mask: boolean,
    deflate: PerMessageDeflate | null,
    host: SendQueueHost,
  ) {
    this.#socket = socket;
    this.#limits = limits;
    this.#stats = stats;
    this.#mask = mask;
    this.#deflate = deflate;
    this.#host = host;
  }

  /** Every byte the connection holds for the peer: in the socket, held back, and being compressed. */
  get bufferedAmount(): number {
    return this.#socket.writableLength + this.#heldBytes + this.#compressingBytes;
  }

  get belowHighWaterMark(): boolean {
    return this.bufferedAmount <= this.#limits.highWaterMark;
  }

  get writerOpen(): boolean {
    return this.#writer !== null;
  }

  /** Brackets the parsing of one read, so the replies it causes share one writev. */
  beginRead(): void {
    this.#readWrites = 0;
    this.#reading = true;
  }

  endRead(): void {
    this.#reading = false;
    if (this.#readWrites > 1) this.#socket.uncork();
  }

  /** Called by the write batch at the end of the tick. */
  uncorkTick(): void {
    this.#tickCorked = false;
    this.#socket.uncork();
  }

  /** One whole message; true when queued (even above the high-water mark). */
  queue(data: string | Buffer | ArrayBufferView | ArrayBuffer, binary: boolean, compress?: boolean): boolean {
    if (!this.#host.isOpen()) return false;
    if (this.#holder !== null) {
      // Held sends are copied: the caller may reuse its buffer once send() returned, as with any synchronous send.
      const copy = typeof data === 'string' ? data : Buffer.from(toBuffer(data));
      const size = typeof copy === 'string' ? Buffer.byteLength(copy) : copy.length;
      return this.#hold(size, () => this.#send(copy, binary, compress, true));
    }
    return this.#send(data, binary, compress, false);
  }

  /** A message framed (and compressed, where peers can share it) once for many connections. */
  queuePrepared(pm: PreparedMessage): boolean {
    if (!this.#host.isOpen()) return false;
    if (this.#holder !== null) return this.#hold(pm.size, () => this.#sendPrepared(pm, true));
    return this.#sendPrepared(pm, false);
  }

  /**
   * For the open MessageWriter: bypasses the writer lock and the slow-consumer policy (a dropped fragment would
   * corrupt the message; the writer waits for the socket instead). Resolves to true: go on; false: wait for
   * socketDrained(); null: the connection is not open.
   */
  writeFragment(opcode: number, payload: Buffer, fin: boolean): boolean | null | Promise<boolean | null> {
    // A writer opened while the connection was open may finish after the peer's close arrived.
    if (!this.#dataWritable()) return null;
    if (this.#holder !== this.#writer) {
      return new Promise<boolean>((resolve) => {
        this.#writerGo = resolve;
      }).then((go) => (go ? this.writeFragment(opcode, payload, fin) : null));
    }
    if (!this.#writerCompressed) {
      this.#writeFrame(opcode, payload, fin, false);
      return this.#socketBelowHighWaterMark();
    }
    // RFC 7692 §6.1: RSV1 on the first frame of a compressed message only.
    const first = opcode !== Opcode.Continuation;
    const out = this.#deflate!.compressPiece(payload, fin);
    if (Buffer.isBuffer(out)) {
      this.#writeFrame(opcode, out, fin, first);
      return this.#socketBelowHighWaterMark();
    }
    this.#compressingBytes += payload.length;
    return out.then(
      (bytes) => {
        this.#compressingBytes -= payload.length;
        if (!this.#dataWritable()) return null;
        this.#writeFrame(opcode, bytes, fin, first);
        return this.#socketBelowHighWaterMark();
      },
      (err: unknown) => {
        this.#compressingBytes -= payload.length;
        this.#host.compressionFailed(err);
        return null;
      },
    );
  }

  /** Ping and pong frames: never held back, never dropped by the policy (control frames may go between any frames). */
  writeControl(opcode: number, payload: Buffer): void {
    if (this.#reading) this.#batchWrites();
    if (this.#socket.writable)
      this.#socket.write(encodeFrame(opcode, payload, true, false, this.#mask ? nextMaskKey() : null));
  }

  /**
   * The close frame. It follows every message sent before it, unless `urgent` (the connection is failing) or an open
   * writer holds the channel (its message cannot be finished now): then it goes at once, and nothing follows it.
   */
  writeClose(payload: Buffer, urgent: boolean): void {
    // A writer that has ended is finishing its message: the close waits for it, as for any message sent before it.
    const interruptible = this.#holder === this.#writer && this.#writer !== null && !this.#writer.writableEnded;
    if (!urgent && this.#holder !== null && !interruptible) {
      this.#hold(0, () => this.#writeCloseNow(payload));
      return;
    }
    this.#writeCloseNow(payload);
  }

  /**
   * A peer that pings without reading must not grow our buffer: above the high-water mark pongs are skipped (§5.5.2
   * allows answering only the latest ping), and above the cap the slow-consumer policy applies.
   */
  admitPong(len: number): boolean {
    const buffered = this.bufferedAmount;
    if (buffered <= this.#limits.highWaterMark) return true;
    if (buffered + len > this.#limits.maxBufferedBytes) this.#admit(len);
    return false;
  }

  /** Takes the channel for one streamed message, compressed when negotiated and `compress`; others wait. */
  takeChannel(writer: MessageWriter, compress: boolean): void {
    this.#writer = writer;
    this.#writerCompressed = compress && this.#deflate !== null;
    if (this.#holder === null) {
      this.#holder = writer;
      return;
    }
    // A message being compressed holds the channel: the writer's turn comes after it (and whatever was sent before).
    this.#hold(0, () => {
      if (this.#writer !== writer) return; // destroyed before its turn
      this.#holder = writer;
      const go = this.#writerGo;
      this.#writerGo = null;
      go?.(true);
    });
  }

  /** Called once per writer: `finished` false means it was destroyed, possibly in the middle of its message. */
  writerDone(writer: MessageWriter, finished: boolean, started: boolean): void {
    if (this.#writer !== writer) return;
    this.#writer = null;
    // Before its turn (a message ahead of it still being compressed) nothing of its message left or was compressed:
    // its waiting first fragment is dropped and the channel stays with whoever holds it.
    const hadTurn = this.#holder === writer;
    if (!hadTurn) {
      const go = this.#writerGo;
      this.#writerGo = null;
      go?.(false);
    }
    if (!finished && this.#writerCompressed) this.#deflate!.abortStream();
    if (!finished && started && hadTurn && this.#host.isOpen()) {
      this.#holder = null;
      this.#host.abandonMessage();
      return;
    }
    this.#release(writer);
  }

  /**
   * Resolves once every byte queued before the call has reached the kernel — sends held back behind an open writer or
   * a compression included; rejects if the connection closes first.
   */
  drained(): Promise<void> {
    if (this.#holder !== null && !this.#closed) {
      return new Promise((resolve, reject) => {
        this.#afterHeld ??= [];
        this.#afterHeld.push({ resolve, reject });
      });
    }
    return this.socketDrained();
  }

  /** Like drained(), for the bytes already in the socket only (what an open writer waits for). */
  socketDrained(): Promise<void> {
    if (this.#closed) return Promise.reject(new WebSocketError('ERR_CLOSED', 'connection is closed'));
    if (this.#socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#drainWaiters ??= [];
      const waiters = this.#drainWaiters;
      waiters.push(waiter);
      const done = (err?: Error | null): void => {
        // A failed write means the socket is going away; its close rejects the waiter.
        if (err) return;
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      };
      // Not 'drain': node emits it only after a write() returned false, so a backlog under the socket's own 16 KiB
      // mark was never announced. Write callbacks run in order, so an empty write's marks the spot.
      if (this.#socket.writableEnded) this.#socket.once('finish', done);
      else this.#socket.write(EMPTY, done);
    });
  }

  /** The connection closed: waiters are rejected, held sends dropped, an open writer ends (quietly: `.pipe()` rethrows). */
  close(): void {
    this.#closed = true;
    this.#holder = null;
    this.#held = null;
    this.#heldBytes = 0;
    const waiting = [...(this.#drainWaiters?.splice(0) ?? []), ...(this.#afterHeld?.splice(0) ?? [])];
    for (const w of waiting) w.reject(new WebSocketError('ERR_CLOSED', 'connection closed'));
    this.#writer?.destroy();
    this.#deflate?.dispose();
  }

  // ---- Sending ---------------------------------------------------------------------------------------------------

  /** `admitted`: the bytes were admitted when the send was held back, so the policy does not apply twice. */
  #send(
    data: string | Buffer | ArrayBufferView | ArrayBuffer,
    binary: boolean,
    compress: boolean | undefined,
    admitted: boolean,
  ): boolean {
    if (this.#closeWritten) return false;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const deflate = this.#deflate;
    if (typeof data === 'string') {
      const len = Buffer.byteLength(data);
      if (len <= COPY_THRESHOLD && !deflate?.shouldCompress(len, compress)) {
        if (!admitted && !this.#admit(len)) return false;
        const frame = encodeTextFrame(data, len, true, this.#mask ? nextMaskKey() : null);
        if (binary) frame[0] = 0x80 | Opcode.Binary;
        this.#writeBuffer(frame, true);
        return true;
      }
    }
    const plain = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
    if (!deflate?.shouldCompress(plain.length, compress)) {
      if (!admitted && !this.#admit(plain.length)) return false;
      this.#writeFrame(opcode, plain, true, false);
      return true;
    }
    if (plain.length > SYNC_DEFLATE_MAX) {
      // Compressed on the threadpool: admitted by its plain size now, written when ready, in order.
      if (!admitted && !this.#admit(plain.length)) return false;
      this.#awaitCompression(plain.length, deflate.compress(plain, false), (payload) => {
        deflate.commitSent(plain);
        this.#writeFrame(opcode, payload, true, true);
      });
      return true;
    }
    const payload = deflate.compress(plain, false) as Buffer;
    // Not into the context-takeover window until admitted: a dropped message must not be referred back to.
    if (!admitted && !this.#admit(payload.length)) return false;
    deflate.commitSent(plain);
    this.#writeFrame(opcode, payload, true, true);
    return true;
  }

  #sendPrepared(pm: PreparedMessage, admitted: boolean): boolean {
    if (this.#closeWritten) return false;
    const deflate = this.#deflate;
    const compress = deflate?.shouldCompress(pm.size, undefined) ?? false;
    // Masked frames and context-takeover compression are per connection by nature.
    if (this.#mask || (compress && !deflate!.shareable))
      return this.#send(pm.data, pm.type === 'binary', undefined, admitted);
    const frame = compress ? compressedFrameOf(pm, deflate!) : plainFrameOf(pm);
    if (Buffer.isBuffer(frame)) {
      if (!admitted && !this.#admit(frame.length)) return false;
      this.#writeBuffer(frame, true);
      return true;
    }
    if (!admitted && !this.#admit(pm.size)) return false;
    this.#awaitCompression(pm.size, frame, (f) => this.#writeBuffer(f, true));
    return true;
  }

  /** Holds the channel until `pending` is ready, then writes it with `write`; later sends wait behind it. */
  #awaitCompression<T>(size: number, pending: Promise<T> | T, write: (result: T) => void): void {
    const slot = {};
    this.#holder = slot;
    this.#compressingBytes += size;
    Promise.resolve(pending).then(
      (result) => {
        this.#compressingBytes -= size;
        if (this.#holder !== slot) return; // the connection closed meanwhile
        if (!this.#closeWritten) write(result);
        this.#release(slot);
      },
      (err: unknown) => {
        this.#compressingBytes -= size;
        if (this.#holder !== slot) return;
        this.#holder = null;
        this.#host.compressionFailed(err);
      },
    );
  }

  /** Holds a send back until the channel is free; held bytes count toward the slow-consumer cap. */
  #hold(size: number, send: () => void): boolean {
    if (size > 0 && !this.#admit(size)) return false;
    this.#heldBytes += size;
    this.#held ??= [];
    this.#held.push({ size, send });
    return true;
  }

  /** Frees the channel and sends what was held, in order, until something takes the channel again. */
  #release(holder: object): void {
    if (this.#holder !== holder) return;
    this.#holder = null;
    const held = this.#held;
    while (held !== null && held.length > 0 && this.#holder === null && !this.#closed) {
      const next = held.shift()!;
      this.#heldBytes -= next.size;
      next.send();
    }
    if (this.#holder !== null || this.#closed) return;
    this.#held = null;
    const waiters = this.#afterHeld ?? [];
    this.#afterHeld = null;
    for (const w of waiters) this.socketDrained().then(w.resolve, w.reject);
  }

  #writeCloseNow(payload: Buffer): void {
    this.#closeWritten = true;
    this.writeControl(Opcode.Close, payload);
    if (this.#endOnClose) this.#socket.end();
  }

  /**
   * Half-closes TCP once our close frame is out: at once when it was written, else right after it, when it still
   * waits behind a message being compressed (ending now would drop the message and the close frame both).
   */
  endAfterClose(): void {
    if (this.#closeWritten || this.#closed) this.#socket.end();
    else this.#endOnClose = true;
  }

  /** Data frames may still go out: until our close frame is written (§5.5.1), even after the peer's close. */
  #dataWritable(): boolean {
    return !this.#closeWritten && this.#socket.writable;
  }

  #socketBelowHighWaterMark(): boolean {
    // Held sends wait for the writer, so they must not hold it back in turn: only the socket counts here.
    return this.#socket.writableLength <= this.#limits.highWaterMark;
  }

  /** Applies the slow-consumer policy before a frame of `len` payload bytes is queued. */
  #admit(len: number): boolean {
    const buffered = this.bufferedAmount;
    if (buffered === 0 || buffered + len <= this.#limits.maxBufferedBytes) return true;
    if (this.#limits.onSlowConsumer === 'drop') {
      if (this.#stats) this.#stats.dropped++;
      return false;
    }
    if (this.#stats) this.#stats.evicted++;
    this.#host.evict();
    return false;
  }

  /** `payload` must not be mutated until it has been written. */
  #writeFrame(opcode: number, payload: Buffer, fin: boolean, rsv1: boolean): void {
    const len = payload.length;
    const key = this.#mask ? nextMaskKey() : null;
    if (key || len <= COPY_THRESHOLD) {
      this.#writeBuffer(encodeFrame(opcode, payload, fin, rsv1, key), fin);
      return;
    }
    const header = Buffer.allocUnsafe(headerLength(len, false));
    writeHeader(header, 0, opcode, len, fin, rsv1, null);
    this.#batchWrites();
    const socket = this.#socket;
    socket.cork();
    socket.write(header);
    socket.write(payload);
    socket.uncork();
    this.#count(header.length + len, fin);
  }

  #writeBuffer(frame: Buffer, fin: boolean): void {
    this.#batchWrites();
    this.#socket.write(frame);
    this.#count(frame.length, fin);
  }

  /** A message is counted at its final frame; every frame's bytes count. */
  #count(bytes: number, fin: boolean): void {
    if (this.#stats) {
      if (fin) this.#stats.messagesOut++;
      this.#stats.bytesOut += bytes;
    }
  }

  /**
   * Sends outside a read are corked until the end of the tick (see write-batch.ts). Within a read the first write
   * goes straight out (the common request/response case) and the second corks until the read is parsed.
   */
  #batchWrites(): void {
    if (this.#reading) {
      if (++this.#readWrites === 2) this.#socket.cork();
      return;
    }
    if (this.#tickCorked) return;
    this.#tickCorked = true;
    this.#socket.cork();
    uncorkAtEndOfTick(this);
  }
}
