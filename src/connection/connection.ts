// One WebSocket peer over a byte stream, server or client side: read path, send path, close handshake (RFC 6455 §5–§7).
// Every protocol failure funnels through #fail(); a close is reported through `closed`, never thrown.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Clock } from '../clock.js';
import { ProtocolError, WebSocketError } from '../errors.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { decodeClosePayload, encodeClosePayload } from '../protocol/close-payload.js';
import { CloseCode, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, Opcode } from '../protocol/constants.js';
import {
  COPY_THRESHOLD,
  encodeFrame,
  encodeTextFrame,
  headerLength,
  nextMaskKey,
  writeHeader,
} from '../protocol/frame-encoder.js';
import { FrameParser, type FrameSink } from '../protocol/frame-parser.js';
import { closeChannel, openChannel, protocolErrorChannel, type Stats } from '../stats.js';
import { positiveInt } from './limits.js';
import { type AssemblerHost, MessageAssembler } from './message-assembler.js';
import { MessageIterator } from './message-iterator.js';
import { type TickCorked, uncorkAtEndOfTick } from './write-batch.js';
import { type MessageReader, MessageWriter } from './streams.js';
import {
  type CloseInfo,
  type ConnectionLimits,
  type ConnectionOptions,
  type Message,
  type MessageType,
  ReadyState,
  type SendOptions,
} from './types.js';

const EMPTY = Buffer.alloc(0);

type SocketLike = Duplex & { writableLength: number; cork(): void; uncork(): void };

export interface ConnectionEvents {
  message: [Message];
  ping: [Buffer];
  pong: [Buffer];
  close: [CloseInfo];
  error: [Error];
}

export class Connection extends EventEmitter<ConnectionEvents> implements FrameSink, TickCorked {
  readonly role: 'server' | 'client';
  /** The negotiated subprotocol, '' when none. */
  readonly protocol: string;
  /** The negotiated Sec-WebSocket-Extensions value, '' when none. */
  readonly extensions: string;
  /** Bytes read since open; the heartbeat watches it change instead of stamping time on every read. */
  readCount = 0;

  readonly #socket: SocketLike;
  readonly #parser: FrameParser;
  readonly #limits: ConnectionLimits;
  readonly #clock: Clock;
  readonly #deflate: PerMessageDeflate | null;
  readonly #mask: boolean;
  #stats: Stats | null = null;
  #state: ReadyState = ReadyState.Open;
  // `closed` is made on first use: most connections never ask, and a promise per idle connection is memory.
  #closedPromise: Promise<CloseInfo> | null = null;
  #resolveClosed: ((info: CloseInfo) => void) | null = null;
  #closeInfo: CloseInfo | null = null;
  readonly #onClosed: ((conn: Connection) => void) | null;

  readonly #assembler: MessageAssembler;

  // Close handshake
  #sentClose = false;
  #receivedClose = false;
  #closeCode: number = CloseCode.Abnormal;
  #closeReason = '';
  #closeTimer: unknown = null;
  #drainWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> | null = null;

  #reading = false;
  #readingStarted = false;
  #pauses = 0;
  #readWrites = 0;
  #tickCorked = false;

  // A streaming writer owns the data channel until it ends (§5.4: no interleaving inside a fragmented message).
  #writer: MessageWriter | null = null;
  #deferred: Array<() => void> | null = null;
  #deferredBytes = 0;

  /** `onClosed` lets an owner (the server) forget the connection without a listener or promise per connection. */
  constructor(
    socket: Duplex,
    options: ConnectionOptions,
    head: Buffer = EMPTY,
    stats: Stats | null = null,
    onClosed: ((conn: Connection) => void) | null = null,
  ) {
    // A rejected promise from an async handler reaches [Symbol.for('nodejs.rejection')] instead of crashing.
    super({ captureRejections: true });
    this.#socket = socket as SocketLike;
    this.#limits = options.limits;
    this.#clock = options.clock;
    this.#deflate = options.deflate;
    this.#mask = options.role === 'client';
    this.role = options.role;
    this.protocol = options.protocol;
    this.extensions = options.extensions;
    this.#stats = stats;
    this.#onClosed = onClosed;
    this.#assembler = new MessageAssembler(
      new Connection.#AssemblerHost(this),
      this,
      options.deflate,
      options.limits.maxMessageSize,
    );
    this.#parser = new FrameParser(this, {
      expectMasked: options.role === 'server',
      allowRsv1: options.deflate !== null,
      maxMessageSize: options.limits.maxMessageSize,
      maxFragments: options.limits.maxFragments,
    });
    if (stats) {
      stats.connectionsOpen++;
      stats.connectionsTotal++;
    }
    socket.on('end', this.#endListener);
    socket.on('close', this.#closeListener);
    socket.on('error', this.#errorListener);
    if (openChannel.hasSubscribers) openChannel.publish({ connection: this });
    // Reading starts one macrotask later: a client's caller attaches its listeners after `await connect()` (in
    // microtasks), so nothing sent right after the 101 is missed. node leaves an upgraded socket paused, so bytes
    // keep their order: `head` (what the HTTP parser read past the headers) first, then the socket's own.
    setImmediate(Connection.#startReading, this, head);
  }

  // Listeners are fields, not closures made in the constructor: those would keep the constructor's scope, and with
  // it `head` (a slice of the request's read buffer), alive as long as the connection.
  readonly #dataListener = (chunk: Buffer): void => this.#onData(chunk);
  readonly #endListener = (): void => this.#onEnd();
  readonly #closeListener = (): void => this.#onSocketClose();
  readonly #errorListener = (err: Error): void => this.#onSocketError(err);

  /** The assembler's view of a connection: a class, not closures, so it costs one small object per connection. */
  static readonly #AssemblerHost = class implements AssemblerHost {
    readonly #conn: Connection;
    constructor(conn: Connection) {
      this.#conn = conn;
    }
    onMessage(msg: Message): void {
      this.onStreamed();
      this.#conn.#emitSafely('message', msg);
    }
    onStreamed(): void {
      const stats = this.#conn.#stats;
      if (stats) stats.messagesIn++;
    }
    fail(code: CloseCode, message: string): void {
      this.#conn.#fail(code, message);
    }
    setStreamLimit(limit: number | null): void {
      this.#conn.#parser.setStreamLimit(limit);
    }
  };

  static #startReading(conn: Connection, head: Buffer): void {
    if (head.length > 0) conn.#onData(head);
    conn.#readingStarted = true;
    // An explicitly paused stream stays paused when a 'data' listener is added.
    conn.#socket.on('data', conn.#dataListener);
  }

  /** Resolves once the connection is closed, however that happened. */
  get closed(): Promise<CloseInfo> {
    if (!this.#closedPromise) {
      const info = this.#closeInfo;
      this.#closedPromise = info
        ? Promise.resolve(info)
        : new Promise((resolve) => {
            this.#resolveClosed = resolve;
          });
    }
    return this.#closedPromise;
  }

  get readyState(): ReadyState {
    return this.#state;
  }

  /** Bytes accepted by send() and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** The negotiated permessage-deflate state, null when uncompressed (the hub reads it to share frames). */
  get deflate(): PerMessageDeflate | null {
    return this.#deflate;
  }

  get remoteAddress(): string | undefined {
    return (this.#socket as { remoteAddress?: string }).remoteAddress;
  }

  // ---- Read path (FrameSink) -------------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    this.readCount += chunk.length;
    if (this.#stats) this.#stats.bytesIn += chunk.length;
    // Everything the handlers send while this chunk is parsed (pongs, echoes, replies to a window of requests)
    // leaves in one writev instead of a syscall per frame: the second write of a read corks the socket.
    this.#readWrites = 0;
    this.#reading = true;
    try {
      this.#parser.push(chunk);
    } finally {
      this.#reading = false;
      if (this.#readWrites > 1) this.#socket.uncork();
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

  /** Called by the write batch at the end of the tick. */
  uncorkTick(): void {
    this.#tickCorked = false;
    this.#socket.uncork();
  }

  onDataFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void {
    this.#assembler.onDataFrame(opcode, fin, rsv1, length);
  }

  onData(chunk: Buffer): void {
    this.#assembler.onData(chunk);
  }

  onDataFrameEnd(fin: boolean): void {
    this.#assembler.onDataFrameEnd(fin);
  }

  onControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) {
      // §5.5.2: answer with a pong carrying the same application data, unless we are already closing. A peer that
      // pings without reading must not grow our buffer: above the high-water mark pongs are skipped (§5.5.2 allows
      // answering only the latest ping), and above the cap the slow-consumer policy applies.
      if (this.#state === ReadyState.Open && this.#admitPong(payload.length)) this.#writeControl(Opcode.Pong, payload);
      this.#emitSafely('ping', payload);
    } else if (opcode === Opcode.Pong) {
      this.#emitSafely('pong', payload);
    } else {
      this.#onCloseFrame(payload);
    }
  }

  onError(closeCode: CloseCode, message: string): void {
    this.#fail(closeCode, message);
  }

  #onCloseFrame(payload: Buffer): void {
    const decoded = decodeClosePayload(payload);
    if (!decoded.ok) {
      this.#fail(decoded.closeCode, decoded.message);
      return;
    }
    this.#receivedClose = true;
    this.#parser.stop();
    // §7.1.5: the connection's close code is the one in the first close frame *received*.
    this.#closeCode = decoded.code;
    this.#closeReason = decoded.reason;
    // §5.5.1: echo the status code; a close without one is answered without one.
    if (!this.#sentClose) this.#sendClose(decoded.code === CloseCode.NoStatus ? undefined : decoded.code, '');
    this.#state = ReadyState.Closing;
    this.#finishCloseHandshake();
  }

  /** Both close frames have crossed: §7.1.1 has the server close TCP first; the client waits for it, bounded. */
  #finishCloseHandshake(): void {
    if (this.role === 'server') this.#socket.end();
    this.#armCloseTimer();
  }

  // ---- Send path -------------------------------------------------------------------------------------------------

  /**
   * Queues one message. Returns false when the connection is not open, when the message was dropped for a slow
   * consumer, or when the buffered bytes are above the high-water mark (wait for `drained()`), like stream.write.
   * A Buffer is not copied: leave it unchanged until `drained()` resolves.
   */
  send(data: string | Buffer | ArrayBufferView | ArrayBuffer, options?: SendOptions): boolean {
    return this.queue(data, options) && this.#socket.writableLength <= this.#limits.highWaterMark;
  }

  /** Like send(), but the result only says whether the message was queued (true even above the high-water mark). */
  queue(data: string | Buffer | ArrayBufferView | ArrayBuffer, options?: SendOptions): boolean {
    if (this.#state !== ReadyState.Open) return false;
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
        this.#writeBuffer(frame);
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

  /**
   * Queues bytes that already are one complete, server-side frame (the hub frames a message once for many peers);
   * true when queued. Client connections must mask per frame, so they cannot use this.
   */
  sendPreframed(frame: Buffer): boolean {
    if (this.#state !== ReadyState.Open || this.#mask) return false;
    if (this.#writer) {
      // Held back like queue() (§5.4: nothing enters a fragmented message); the hub never mutates a shared frame.
      return this.#defer(frame.length, () => this.sendPreframed(frame));
    }
    if (!this.#admit(frame.length)) return false;
    this.#writeBuffer(frame);
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

  ping(data: string | Buffer = EMPTY): void {
    this.#control(Opcode.Ping, data);
  }

  pong(data: string | Buffer = EMPTY): void {
    this.#control(Opcode.Pong, data);
  }

  /** Resolves once every byte queued before the call has reached the kernel; rejects if the connection closes first. */
  drained(): Promise<void> {
    if (this.#state === ReadyState.Closed)
      return Promise.reject(new WebSocketError('ERR_CLOSED', 'connection is closed'));
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
      // mark was never announced and drained() hung. Write callbacks run in order, so an empty write's marks the spot.
      if (this.#socket.writableEnded) this.#socket.once('finish', done);
      else this.#socket.write(EMPTY, done);
    });
  }

  /**
   * Streams the next incoming message instead of buffering it (gorilla's NextReader). `maxSize` replaces
   * maxMessageSize for that one message when it is uncompressed (it is never held whole); a compressed message is
   * inflated whole, so it keeps maxMessageSize.
   */
  nextReader(options: { maxSize?: number } = {}): Promise<MessageReader> {
    const maxSize = options.maxSize === undefined ? null : positiveInt('maxSize', options.maxSize, 0);
    if (this.#state !== ReadyState.Open)
      return Promise.reject(new WebSocketError('ERR_CLOSED', 'connection is closing or closed'));
    return new Promise((resolve, reject) => this.#assembler.claimNext(resolve, reject, maxSize));
  }

  /** Writes one message in pieces as fragments (gorilla's NextWriter); other sends wait until it ends. */
  writer(type: MessageType = 'binary'): MessageWriter {
    if (this.#state !== ReadyState.Open) throw new WebSocketError('ERR_NOT_OPEN', 'connection is not open');
    if (this.#writer) throw new WebSocketError('ERR_NOT_OPEN', 'another message writer is still open');
    const writer = new MessageWriter(type === 'text' ? Opcode.Text : Opcode.Binary, this, (finished, started) =>
      this.#onWriterDone(writer, finished, started),
    );
    this.#writer = writer;
    return writer;
  }

  /**
   * Used by MessageWriter: bypasses the writer lock that holds back ordinary sends, and the slow-consumer policy (a
   * dropped fragment would corrupt the message; the writer waits for drained() instead). False: wait for drain.
   */
  writeFragment(opcode: number, payload: Buffer, fin: boolean): boolean | null {
    if (this.#state !== ReadyState.Open) return null;
    this.#writeFrame(opcode, payload, fin, false);
    return this.#socket.writableLength <= this.#limits.highWaterMark;
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return new MessageIterator(this, this);
  }

  /**
   * Stops reading from the socket until resume(); pauses nest (each needs its resume). The heartbeat spares a paused
   * connection: it cannot see the pongs it does not read, and a consumer that lags is not a dead peer.
   */
  pause(): void {
    if (this.#pauses++ === 0) this.#socket.pause();
  }

  resume(): void {
    if (this.#pauses === 0) return;
    // Before reading has started, resuming would let bytes flow to no listener; #startReading honours the count.
    if (--this.#pauses === 0 && this.#readingStarted) this.#socket.resume();
  }

  get isPaused(): boolean {
    return this.#pauses > 0;
  }

  // ---- Close -----------------------------------------------------------------------------------------------------

  /** Starts the close handshake; resolves when it completes or the close timeout ends it. */
  close(code: number = CloseCode.Normal, reason = ''): Promise<CloseInfo> {
    const payload = encodeClosePayload(code, reason);
    if (this.#state === ReadyState.Open) {
      this.#state = ReadyState.Closing;
      this.#closeCode = code;
      this.#closeReason = reason;
      this.#writeCloseFrame(payload);
      this.#armCloseTimer();
    }
    return this.closed;
  }

  /** Drops the TCP connection at once, with no close handshake; `closed` reports 1006. */
  terminate(): void {
    this.#socket.destroy();
  }

  /** The single failure path (§7.1.7): send the close code if the socket still writes, then close it, bounded. */
  #fail(code: CloseCode, message: string, cause?: Error): void {
    if (this.#state === ReadyState.Closed) return;
    this.#parser.stop();
    // Only the peer's violations of the protocol count as such (not our policy 1008 or a handler's 1011).
    if (code === CloseCode.ProtocolError || code === CloseCode.InvalidPayload || code === CloseCode.MessageTooBig) {
      if (this.#stats) this.#stats.protocolErrors++;
      if (protocolErrorChannel.hasSubscribers)
        protocolErrorChannel.publish({ connection: this, closeCode: code, message });
    }
    if (!this.#sentClose) {
      this.#closeCode = code;
      this.#closeReason = message;
      this.#sendClose(code, truncateReason(message));
    }
    this.#state = ReadyState.Closing;
    this.#socket.end();
    this.#armCloseTimer();
    if (this.listenerCount('error') > 0) {
      const err = new ProtocolError(code, message);
      if (cause) err.cause = cause;
      this.emit('error', err);
    }
  }

  #sendClose(code: number | undefined, reason: string): void {
    this.#writeCloseFrame(encodeClosePayload(code, reason));
  }

  #writeCloseFrame(payload: Buffer): void {
    this.#sentClose = true;
    const key = this.#mask ? nextMaskKey() : null;
    if (this.#socket.writable) this.#socket.write(encodeFrame(Opcode.Close, payload, true, false, key));
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== null) return;
    this.#closeTimer = this.#clock.setTimeout(() => this.#socket.destroy(), this.#limits.closeTimeout);
  }

  #onEnd(): void {
    // The peer half-closed TCP: nothing more will arrive, so finish our side too.
    if (this.#state === ReadyState.Open) this.#state = ReadyState.Closing;
    this.#socket.end();
  }

  #onSocketError(err: Error): void {
    // Nothing more can be sent: say so at once rather than accepting sends until 'close' arrives.
    if (this.#state === ReadyState.Open) this.#state = ReadyState.Closing;
    if (this.listenerCount('error') > 0 && !this.#receivedClose) this.emit('error', err);
    this.#socket.destroy();
  }

  #onSocketClose(): void {
    if (this.#state === ReadyState.Closed) return;
    this.#state = ReadyState.Closed;
    this.#parser.stop();
    if (this.#closeTimer !== null) this.#clock.clearTimeout(this.#closeTimer);
    const clean = this.#sentClose && this.#receivedClose;
    const info: CloseInfo = clean
      ? { code: this.#closeCode, reason: this.#closeReason, wasClean: true }
      : this.#sentClose
        ? { code: this.#closeCode, reason: this.#closeReason, wasClean: false }
        : { code: CloseCode.Abnormal, reason: '', wasClean: false };
    if (this.#stats) this.#stats.connectionsOpen--;
    // Errors capture a stack: made only when a reader is there to receive one, not on every close.
    if (this.#assembler.hasReaders) {
      this.#assembler.abort(new WebSocketError('ERR_CLOSED', `connection closed (${info.code})`));
    }
    for (const w of this.#drainWaiters?.splice(0) ?? [])
      w.reject(new WebSocketError('ERR_CLOSED', 'connection closed'));
    // Destroyed without an error: `.pipe()` would rethrow one as an uncaught exception; 'close' tells the story.
    this.#writer?.destroy();
    this.#closeInfo = info;
    this.#resolveClosed?.(info);
    this.#onClosed?.(this);
    if (closeChannel.hasSubscribers) closeChannel.publish({ connection: this, info });
    this.#emitSafely('close', info);
  }

  // ---- Internals -------------------------------------------------------------------------------------------------

  /** Applies the slow-consumer policy before a frame of `len` payload bytes is queued. */
  #admit(len: number): boolean {
    const buffered = this.#socket.writableLength + this.#deferredBytes;
    if (buffered === 0 || buffered + len <= this.#limits.maxBufferedBytes) return true;
    if (this.#limits.onSlowConsumer === 'drop') {
      if (this.#stats) this.#stats.dropped++;
      return false;
    }
    if (this.#stats) this.#stats.evicted++;
    // 1008: the peer broke our policy by not reading. Its close frame may never get through a full buffer;
    // the close timer bounds that.
    this.#fail(CloseCode.PolicyViolation, 'slow consumer: send buffer over its limit');
    return false;
  }

  #admitPong(len: number): boolean {
    const buffered = this.#socket.writableLength;
    if (buffered <= this.#limits.highWaterMark) return true;
    if (buffered + len > this.#limits.maxBufferedBytes) this.#admit(len);
    return false;
  }

  #writeBuffer(frame: Buffer, fin = true): void {
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

  #control(opcode: number, data: string | Buffer): void {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError('control frame payload is limited to 125 bytes');
    if (this.#state !== ReadyState.Open) return;
    this.#writeControl(opcode, payload);
  }

  #writeControl(opcode: number, payload: Buffer): void {
    const key = this.#mask ? nextMaskKey() : null;
    if (this.#reading) this.#batchWrites();
    this.#socket.write(encodeFrame(opcode, payload, true, false, key));
  }

  /** Holds a send back until the writer ends; held-back bytes count toward the slow-consumer cap. */
  #defer(size: number, send: () => void): boolean {
    if (!this.#admit(size)) return false;
    this.#deferredBytes += size;
    this.#deferred ??= [];
    this.#deferred.push(send);
    return true;
  }

  /** Called once per writer: `finished` false means it was destroyed, possibly in the middle of its message. */
  #onWriterDone(writer: MessageWriter, finished: boolean, started: boolean): void {
    if (this.#writer !== writer) return;
    this.#writer = null;
    if (!finished && started && this.#state === ReadyState.Open) {
      // A message cannot be withdrawn from the wire once its first fragment left: nothing valid can follow it.
      this.#fail(CloseCode.InternalError, 'message writer destroyed mid-message');
      return;
    }
    const deferred = this.#deferred ?? [];
    this.#deferred = null;
    this.#deferredBytes = 0;
    for (const send of deferred) send();
  }

  /** A throwing user handler must not take the read path down with it: it fails this connection with 1011. */
  #emitSafely<K extends keyof ConnectionEvents>(event: K, arg: ConnectionEvents[K][0]): void {
    try {
      (this.emit as (e: K, a: ConnectionEvents[K][0]) => boolean)(event, arg);
    } catch (err) {
      this.#handlerFailed(err);
    }
  }

  /** node calls this for a promise rejected by an async listener (captureRejections). */
  [Symbol.for('nodejs.rejection')](err: unknown): void {
    this.#handlerFailed(err);
  }

  #handlerFailed(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // Without an 'error' listener the exception would vanish; a warning keeps the bug visible without a crash.
    if (this.listenerCount('error') === 0) process.emitWarning(error);
    this.#fail(CloseCode.InternalError, 'handler error', error);
  }
}

function toBuffer(data: Buffer | ArrayBufferView | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Close reasons must fit in 123 bytes (§5.5.1); failure messages are cut before a UTF-8 continuation byte. */
function truncateReason(message: string): string {
  const bytes = Buffer.from(message);
  if (bytes.length <= MAX_CLOSE_REASON) return message;
  let end = MAX_CLOSE_REASON;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}
