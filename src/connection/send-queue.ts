// The outgoing side of a connection (RFC 6455 §5.2–§5.5): frames messages (compressed, masked as the role asks), keeps
// the slow-consumer cap, holds sends back while a streaming writer owns the channel (§5.4: nothing may enter a
// fragmented message), and batches writes: the first reply of a read goes straight out, later ones share a writev,
// and sends outside a read are corked to the end of the tick.
import type { Duplex } from 'node:stream';
import { WebSocketError } from '../errors.js';
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
import type { FragmentSink, MessageWriter } from './streams.js';
import type { ConnectionLimits, SendOptions } from './types.js';
import { type TickCorked, uncorkAtEndOfTick } from './write-batch.js';

export type SocketLike = Duplex & { writableLength: number; cork(): void; uncork(): void };

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** What the queue needs of its connection. */
export interface SendQueueHost {
  isOpen(): boolean;
  /** The peer is a slow consumer under the 'close' policy: close with 1008. */
  evict(): void;
  /** A writer was destroyed after its first fragment left: nothing valid can follow, close with 1011. */
  abandonMessage(): void;
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
  #writer: MessageWriter | null = null;
  #deferred: Array<() => void> | null = null;
  #deferredBytes = 0;
  #drainWaiters: Waiter[] | null = null;
  /** drained() calls made while sends were held back: they wait for those sends to be written first. */
  #afterWriter: Waiter[] | null = null;
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

  /** Every byte the connection holds for the peer: in the socket, and held back behind an open writer. */
  get bufferedAmount(): number {
    return this.#socket.writableLength + this.#deferredBytes;
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
  queue(data: string | Buffer | ArrayBufferView | ArrayBuffer, options?: SendOptions): boolean {
    if (!this.#host.isOpen()) return false;
    if (this.#writer) {
      const copy = typeof data === 'string' ? data : Buffer.from(toBuffer(data));
      const size = typeof copy === 'string' ? Buffer.byteLength(copy) : copy.length;
      return this.#defer(size, () => this.queue(copy, options));
    }
    const binary = options?.binary ?? typeof data !== 'string';
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const deflate = this.#deflate;
    if (typeof data === 'string' && !deflate) {
      const len = Buffer.byteLength(data);
      if (len <= COPY_THRESHOLD) {
        if (!this.#admit(len)) return false;
        const frame = encodeTextFrame(data, len, true, this.#mask ? nextMaskKey() : null);
        if (binary) frame[0] = 0x80 | Opcode.Binary;
        this.#writeBuffer(frame, true);
        return true;
      }
    }
    let payload = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
    let rsv1 = false;
    const plain = payload;
    if (deflate && (options?.compress ?? payload.length >= deflate.threshold)) {
      // Not into the context-takeover window until admitted: a dropped message must not be referred back to.
      payload = deflate.compress(payload, false);
      rsv1 = true;
    }
    if (!this.#admit(payload.length)) return false;
    if (rsv1) deflate!.commitSent(plain);
    this.#writeFrame(opcode, payload, true, rsv1);
    return true;
  }

  /** A complete server-side frame built once for many peers (the hub); true when queued. */
  sendPreframed(frame: Buffer): boolean {
    if (!this.#host.isOpen() || this.#mask) return false;
    // Held back like queue(); the hub never mutates a shared frame.
    if (this.#writer) return this.#defer(frame.length, () => this.sendPreframed(frame));
    if (!this.#admit(frame.length)) return false;
    this.#writeBuffer(frame, true);
    return true;
  }

  /**
   * For the open MessageWriter: bypasses the writer lock and the slow-consumer policy (a dropped fragment would
   * corrupt the message; the writer waits for drained() instead). True: go on; false: wait; null: not open.
   */
  writeFragment(opcode: number, payload: Buffer, fin: boolean): boolean | null {
    if (!this.#host.isOpen()) return null;
    this.#writeFrame(opcode, payload, fin, false);
    // Sends held back wait for this writer, so they must not hold it back in turn: only the socket counts here.
    return this.#socket.writableLength <= this.#limits.highWaterMark;
  }

  /** Ping, pong and close frames: never held back, never dropped by the policy. */
  writeControl(opcode: number, payload: Buffer): void {
    if (this.#reading) this.#batchWrites();
    if (this.#socket.writable)
      this.#socket.write(encodeFrame(opcode, payload, true, false, this.#mask ? nextMaskKey() : null));
  }

  /**
   * A peer that pings without reading must not grow our buffer: above the high-water mark pongs are skipped (§5.5.2
   * allows answering only the latest ping), and above the cap the slow-consumer policy applies.
   */
  admitPong(len: number): boolean {
    const buffered = this.#socket.writableLength;
    if (buffered <= this.#limits.highWaterMark) return true;
    if (buffered + len > this.#limits.maxBufferedBytes) this.#admit(len);
    return false;
  }

  /** Takes the channel for one streamed message; other sends wait until `writerDone`. */
  takeChannel(writer: MessageWriter): void {
    this.#writer = writer;
  }

  /** Called once per writer: `finished` false means it was destroyed, possibly in the middle of its message. */
  writerDone(writer: MessageWriter, finished: boolean, started: boolean): void {
    if (this.#writer !== writer) return;
    this.#writer = null;
    if (!finished && started && this.#host.isOpen()) {
      this.#host.abandonMessage();
      return;
    }
    const deferred = this.#deferred ?? [];
    this.#deferred = null;
    this.#deferredBytes = 0;
    for (const send of deferred) send();
    const waiters = this.#afterWriter ?? [];
    this.#afterWriter = null;
    for (const w of waiters) this.socketDrained().then(w.resolve, w.reject);
  }

  /**
   * Resolves once every byte queued before the call has reached the kernel — sends held back behind an open writer
   * included; rejects if the connection closes first.
   */
  drained(): Promise<void> {
    if (this.#deferred !== null && !this.#closed) {
      return new Promise((resolve, reject) => {
        this.#afterWriter ??= [];
        this.#afterWriter.push({ resolve, reject });
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

  /** The connection closed: drain waiters are rejected, an open writer ends (quietly: `.pipe()` rethrows errors). */
  close(): void {
    this.#closed = true;
    const waiting = [...(this.#drainWaiters?.splice(0) ?? []), ...(this.#afterWriter?.splice(0) ?? [])];
    for (const w of waiting) w.reject(new WebSocketError('ERR_CLOSED', 'connection closed'));
    this.#writer?.destroy();
  }

  /** Applies the slow-consumer policy before a frame of `len` payload bytes is queued. */
  #admit(len: number): boolean {
    const buffered = this.#socket.writableLength + this.#deferredBytes;
    if (buffered === 0 || buffered + len <= this.#limits.maxBufferedBytes) return true;
    if (this.#limits.onSlowConsumer === 'drop') {
      if (this.#stats) this.#stats.dropped++;
      return false;
    }
    if (this.#stats) this.#stats.evicted++;
    this.#host.evict();
    return false;
  }

  /** Holds a send back until the writer ends; held-back bytes count toward the slow-consumer cap. */
  #defer(size: number, send: () => void): boolean {
    if (!this.#admit(size)) return false;
    this.#deferredBytes += size;
    this.#deferred ??= [];
    this.#deferred.push(send);
    return true;
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

function toBuffer(data: Buffer | ArrayBufferView | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
