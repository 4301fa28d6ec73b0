// One WebSocket peer over a byte stream, server or client side: state, read path, control frames and the close handshake
// (RFC 6455 §5–§7); messages are assembled by message-assembler.ts and sent through send-queue.ts.
// Every protocol failure funnels through #fail(); a close is reported through `closed`, never thrown.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Clock } from '../clock.js';
import {
  type ProtocolErrorCode,
  ProtocolError,
  protocolCodeOf,
  WebSocketError,
  type WebSocketErrorCode,
  asError,
  warnOf,
} from '../errors.js';
import { decodeClosePayload, encodeClosePayload } from '../protocol/close-payload.js';
import { CloseCode, EMPTY, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, Opcode } from '../protocol/constants.js';
import { FrameParser, type FrameSink } from '../protocol/frame-parser.js';
import { closeChannel, openChannel, protocolErrorChannel, type Stats } from '../stats.js';
import { type AssemblerHost, MessageAssembler } from './message-assembler.js';
import { MessageIterator } from './message-iterator.js';
import { PreparedMessage } from './prepared-message.js';
import { SendQueue, type SendQueueHost, type SocketLike } from './send-queue.js';
import { type MessageReader, MessageWriter } from './streams.js';
import { intOption } from '../validate.js';
import { charged, later, overBudget } from './cpu-budget.js';
import { FRAMES_PER_TURN } from './limits.js';
import {
  type CloseInfo,
  type ConnectionLimits,
  type ConnectionOptions,
  type Message,
  type MessageType,
  ReadyState,
  type SendOptions,
} from './types.js';

/**
 * The events of a {@link Connection}, with their listeners' arguments. A listener that throws (or, being async,
 * rejects) fails that connection with 1011 (ERR_HANDLER_FAILED) instead of crashing the process.
 */
export interface ConnectionEvents {
  /** One whole message: `msg.type` is `'text'` (`msg.data` a string) or `'binary'` (a Buffer). */
  message: [Message];
  /** A ping arrived (its payload); the pong that answers it has already been queued. */
  ping: [Buffer];
  /** A pong arrived (its payload): the answer to a ping, or an unsolicited heartbeat. */
  pong: [Buffer];
  /** The last event, once the transport has closed, however that happened; `conn.closed` resolves with the same. */
  close: [CloseInfo];
  /**
   * Why the connection failed: a {@link ProtocolError} for what the peer did wrong, a {@link WebSocketError}
   * otherwise (slow consumer, handler, transport). Emitted at most once, and only to listeners: without one, a
   * failure is still reported by 'close' and never crashes the process.
   */
  error: [Error];
}

/**
 * Queues a prepared message whatever the high-water mark (true: queued; false: the connection is not open or the
 * slow-consumer policy refused it). For the hub, whose stats count refusals; not part of the public API.
 */
export let queuePrepared: (conn: Connection, message: PreparedMessage) => boolean;

/**
 * One open WebSocket, server or client side: what `wss.on('connection')` hands over and `connect()` resolves with.
 * Send with send() (false above the high-water mark, then await drained()), read with the 'message' event, the async
 * iterator (`for await (const msg of conn)`) or nextReader() for a message streamed in pieces; close with close().
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  /** Which end of the connection this is: `'server'` (accepted by a WebSocketServer) or `'client'` (from connect()). */
  readonly role: 'server' | 'client';
  /** The negotiated subprotocol, '' when none. */
  readonly protocol: string;
  /** The negotiated Sec-WebSocket-Extensions value, '' when none. */
  readonly extensions: string;

  readonly #socket: SocketLike;
  readonly #parser: FrameParser;
  readonly #limits: ConnectionLimits;
  readonly #clock: Clock;
  readonly #out: SendQueue;
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

  /** Bytes read since open; the heartbeat watches it change instead of stamping time on every read. */
  #readCount = 0;
  #readingStarted = false;
  /** Pauses asked for by the application, a lagging reader or iterator (they nest). */
  #pauses = 0;
  /** The read path holds bytes it has not parsed yet (budget spent, or the parser halted): the socket waits. */
  #parked = false;
  #socketPaused = false;
  /** The peer ended its side while frames it sent before wait for a later turn: end ours once they are read. */
  #endAfterParse = false;
  /** 'error' is emitted at most once per connection. */
  #errorEmitted = false;

  /**
   * Made by a WebSocketServer or connect(), never directly. `onClosed` lets an owner (the server) forget the
   * connection without a listener or promise per connection.
   * @internal
   */
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
    this.role = options.role;
    this.protocol = options.protocol;
    this.extensions = options.extensions;
    this.#stats = stats;
    this.#onClosed = onClosed;
    const internals = new Connection.#Internals(this);
    this.#assembler = new MessageAssembler(internals, this, options.deflate, options.limits.maxMessageSize);
    this.#out = new SendQueue(
      this.#socket,
      options.limits,
      stats,
      options.role === 'client',
      options.deflate,
      internals,
    );
    this.#parser = new FrameParser(internals, {
      expectMasked: options.role === 'server',
      allowRsv1: options.deflate !== null,
      maxMessageSize: options.limits.maxMessageSize,
      maxFragments: options.limits.maxFragments,
    });
    if (stats) {
      stats.connectionsOpen++;
      stats.connectionsTotal++;
    }
    // The peer's FIN is ours to answer (#onEnd): a client socket would otherwise end itself at once, before frames
    // still waiting to be parsed (a close frame, the verdict on a message being inflated) are read and answered.
    socket.allowHalfOpen = true;
    Connection.#bySocket.set(socket, this);
    socket.on('end', Connection.#onSocketEnd);
    socket.on('close', Connection.#onSocketCloseEvent);
    socket.on('error', Connection.#onSocketErrorEvent);
    if (openChannel.hasSubscribers) openChannel.publish({ connection: this });
    // Reading starts one macrotask later: a client's caller attaches its listeners after `await connect()` (in
    // microtasks), so nothing sent right after the 101 is missed. node leaves an upgraded socket paused, so bytes
    // keep their order: `head` (what the HTTP parser read past the headers) first, then the socket's own.
    setImmediate(Connection.#startReading, this, head);
  }

  // The data listener is a field, not a closure made in the constructor: that would keep the constructor's scope, and
  // with it `head` (a slice of the request's read buffer), alive as long as the connection. The rare socket events
  // share one function each and find their connection in a side table: a closure per event per connection is ~64
  // bytes, which idle connections pay for nothing.
  readonly #dataListener = (chunk: Buffer): void => this.#onData(chunk);
  static readonly #bySocket = new WeakMap<Duplex, Connection>();

  static {
    queuePrepared = (conn, message) => conn.#out.queuePrepared(message);
  }

  static #onSocketEnd(this: Duplex): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the socket as `this`
    const conn = Connection.#bySocket.get(this);
    if (conn) conn.#onEnd();
  }

  static #onSocketCloseEvent(this: Duplex): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the socket as `this`
    const conn = Connection.#bySocket.get(this);
    if (conn) conn.#onSocketClose();
  }

  static #onSocketErrorEvent(this: Duplex, err: Error): void {
    // biome-ignore lint/complexity/noThisInStatic: node calls a listener with the socket as `this`
    const conn = Connection.#bySocket.get(this);
    if (conn) conn.#onSocketError(err);
  }

  /**
   * What the frame parser, the assembler and the send queue see of a connection: one small object, not closures,
   * and none of it on the connection's public surface.
   */
  static readonly #Internals = class implements FrameSink, AssemblerHost, SendQueueHost {
    readonly #conn: Connection;
    constructor(conn: Connection) {
      this.#conn = conn;
    }
    onDataFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void {
      this.#conn.#assembler.onDataFrame(opcode, fin, rsv1, length);
    }
    onData(chunk: Buffer): void {
      this.#conn.#assembler.onData(chunk);
    }
    onDataFrameEnd(fin: boolean): void {
      this.#conn.#assembler.onDataFrameEnd(fin);
    }
    onControl(opcode: number, payload: Buffer): void {
      this.#conn.#onControl(opcode, payload);
    }
    onError(closeCode: CloseCode, message: string): void {
      this.#conn.#fail(closeCode, message);
    }
    onMessage(msg: Message): void {
      this.onStreamed();
      this.#conn.#emitSafely('message', msg);
    }
    onStreamed(): void {
      const stats = this.#conn.#stats;
      if (stats) stats.messagesIn++;
    }
    fail(code: CloseCode, message: string, errorCode?: ProtocolErrorCode): void {
      this.#conn.#fail(code, message, errorCode);
    }
    handlerFailed(err: unknown): void {
      this.#conn.#handlerFailed(err);
    }
    setStreamLimit(limit: number | null): void {
      this.#conn.#parser.setStreamLimit(limit);
    }
    haltInput(): void {
      this.#conn.#parser.halt();
    }
    resumeInput(): void {
      // drain() un-halts the parser.
      if (this.#conn.#state !== ReadyState.Closed) this.#conn.#parse(null);
    }
    reading(): boolean {
      return this.#conn.#state !== ReadyState.Closed && !this.#conn.#parser.failed;
    }
    isOpen(): boolean {
      return this.#conn.#state === ReadyState.Open;
    }
    evict(): void {
      // 1008: the peer broke our policy by not reading. Its close frame may never get through a full buffer;
      // the close timer bounds that. Found inside a send: 'error' comes after it.
      this.#conn.#fail(CloseCode.PolicyViolation, 'slow consumer: send buffer over its limit', 'ERR_SLOW_CONSUMER', {
        errorLater: true,
      });
    }
    abandonMessage(): void {
      // A message cannot be withdrawn from the wire once its first fragment left: nothing valid can follow it.
      this.#conn.#fail(CloseCode.InternalError, 'message writer destroyed mid-message', 'ERR_WRITER_DESTROYED');
    }
    compressionFailed(err: unknown): void {
      this.#conn.#fail(CloseCode.InternalError, 'compression failed', 'ERR_COMPRESSION_FAILED', {
        cause: asError(err),
      });
    }
  };

  static #startReading(conn: Connection, head: Buffer): void {
    if (conn.#state === ReadyState.Closed) return;
    if (head.length > 0) conn.#onData(head);
    conn.#readingStarted = true;
    conn.#socket.on('data', conn.#dataListener);
    // An explicitly paused socket stays paused when a 'data' listener is added, and one node left paused after the
    // upgrade may have been paused and resumed by the application already: say what the socket should do now.
    conn.#socketPaused = conn.#socket.isPaused();
    conn.#syncFlow();
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

  /** Open (1), Closing (2) or Closed (3): see {@link ReadyState}. */
  get readyState(): ReadyState {
    return this.#state;
  }

  /** Bytes read since the connection opened. */
  get readCount(): number {
    return this.#readCount;
  }

  /**
   * Bytes accepted by send() and not yet handed to the kernel, including sends held back behind an open writer():
   * everything the connection holds for the peer.
   */
  get bufferedAmount(): number {
    return this.#out.bufferedAmount;
  }

  /** The peer's IP address, as the socket reports it (undefined once the socket is destroyed, or over HTTP/2). */
  get remoteAddress(): string | undefined {
    return (this.#socket as { remoteAddress?: string }).remoteAddress;
  }

  // ---- Read path (FrameSink) -------------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    this.#readCount += chunk.length;
    if (this.#stats) this.#stats.bytesIn += chunk.length;
    this.#parse(chunk);
  }

  /**
   * Parses buffered bytes (and `chunk`) within one turn's budget. Everything the handlers send meanwhile (pongs,
   * echoes, replies to a window of requests) leaves in one writev: the second write of a read corks the socket. When
   * this connection's frame budget or the process's per-turn CPU budget runs out, or the parser is halted, the socket
   * waits and the rest is parsed on a later turn: a flood of tiny frames cannot hold the event loop.
   */
  #parse(chunk: Buffer | null): void {
    const frames = overBudget() ? 0 : FRAMES_PER_TURN;
    const more = charged(() => {
      this.#out.beginRead();
      try {
        const left = chunk ? this.#parser.push(chunk, frames) : this.#parser.drain(frames);
        this.#assembler.flushStream();
        return left;
      } finally {
        this.#out.endRead();
      }
    });
    if (more) {
      this.#setParked(true);
      later(() => this.#parseLater());
    } else {
      this.#setParked(this.#parser.halted);
      if (this.#endAfterParse) {
        this.#endAfterParse = false;
        this.#onEnd();
      }
    }
  }

  #parseLater(): void {
    if (this.#state !== ReadyState.Closed && !this.#parser.halted) this.#parse(null);
  }

  #setParked(parked: boolean): void {
    if (this.#parked === parked) return;
    this.#parked = parked;
    this.#syncFlow();
  }

  /** The socket reads exactly when nobody holds it: no pause, nothing parked, reading started. */
  #syncFlow(): void {
    if (!this.#readingStarted) return;
    // Once the parser has stopped (a failure, or the peer's close), nothing is parsed any more: the socket reads on
    // regardless, so the peer's FIN is seen and the close completes without waiting for the close timer.
    const pause = !this.#parser.failed && (this.#pauses > 0 || this.#parked);
    if (pause === this.#socketPaused) return;
    this.#socketPaused = pause;
    if (pause) this.#socket.pause();
    else this.#socket.resume();
  }

  #onControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) {
      // §5.5.2: answer with a pong carrying the same application data "unless it already received a Close frame"
      // (having sent ours is no reason to stop). A peer that pings without reading must not grow our buffer: above
      // the high-water mark pongs are skipped (§5.5.2 allows answering only the latest ping), and above the cap the
      // slow-consumer policy applies.
      if (!this.#receivedClose && this.#out.admitPong(payload.length)) this.#out.writeControl(Opcode.Pong, payload);
      this.#emitSafely('ping', payload);
    } else if (opcode === Opcode.Pong) {
      this.#emitSafely('pong', payload);
    } else {
      this.#onCloseFrame(payload);
    }
  }

  #onCloseFrame(payload: Buffer): void {
    const decoded = decodeClosePayload(payload);
    if (!decoded.ok) {
      this.#fail(decoded.closeCode, decoded.message);
      return;
    }
    this.#receivedClose = true;
    this.#parser.stop();
    this.#syncFlow();
    // §7.1.5: the connection's close code is the one in the first close frame *received*.
    this.#closeCode = decoded.code;
    this.#closeReason = decoded.reason;
    // §5.5.1: echo the status code; a close without one is answered without one.
    if (!this.#sentClose) {
      this.#writeCloseFrame(encodeClosePayload(decoded.code === CloseCode.NoStatus ? undefined : decoded.code), false);
    }
    this.#state = ReadyState.Closing;
    this.#finishCloseHandshake();
  }

  /** Both close frames have crossed: §7.1.1 has the server close TCP first; the client waits for it, bounded. */
  #finishCloseHandshake(): void {
    if (this.role === 'server') this.#out.endAfterClose();
    this.#armCloseTimer();
  }

  // ---- Send path -------------------------------------------------------------------------------------------------

  /**
   * Queues one message. Returns false when the connection is not open, when the message was dropped for a slow
   * consumer, or when the buffered bytes are above the high-water mark (wait for `drained()`), like stream.write.
   * A Buffer is not copied: leave it unchanged until `drained()` resolves.
   */
  send(data: string | Buffer | ArrayBufferView | ArrayBuffer, options?: SendOptions): boolean {
    const binary = options?.binary ?? typeof data !== 'string';
    return this.#out.queue(data, binary, options?.compress) && this.#out.belowHighWaterMark;
  }

  /**
   * Sends a message framed once for many connections (the same bytes to every peer that can share them); the result
   * is send()'s.
   */
  sendPrepared(message: PreparedMessage): boolean {
    if (!(message instanceof PreparedMessage)) throw new TypeError('sendPrepared takes a PreparedMessage');
    return this.#out.queuePrepared(message) && this.#out.belowHighWaterMark;
  }

  /** Sends a ping (at most 125 bytes); false when the connection is not open. */
  ping(data: string | Buffer = EMPTY): boolean {
    return this.#control(Opcode.Ping, data);
  }

  /** Sends an unsolicited pong (a heartbeat the peer does not answer, §5.5.3); false when not open. */
  pong(data: string | Buffer = EMPTY): boolean {
    return this.#control(Opcode.Pong, data);
  }

  /** Resolves once every byte queued before the call has reached the kernel; rejects if the connection closes first. */
  drained(): Promise<void> {
    return this.#out.drained();
  }

  /**
   * Streams the next incoming message instead of buffering it (gorilla's NextReader). `maxSize` replaces
   * maxMessageSize for that one message (it is never held whole; for a compressed message it bounds the inflated
   * bytes). Rejects with ERR_CLOSED when the connection is not open or closes before the message begins. A 'data'
   * listener that throws when handed bytes fails the connection with 1011, as a throwing 'message' listener does.
   */
  nextReader(options: { maxSize?: number } = {}): Promise<MessageReader> {
    const maxSize = options.maxSize === undefined ? null : intOption('maxSize', options.maxSize, 0);
    if (this.#state !== ReadyState.Open) return Promise.reject(notOpen());
    return new Promise((resolve, reject) => this.#assembler.claimNext(resolve, reject, maxSize));
  }

  /**
   * Writes one message in pieces as fragments (gorilla's NextWriter); other sends wait until it ends. With
   * permessage-deflate the message is compressed as it is written (`compress: false` sends it as it is).
   */
  writer(type: MessageType = 'binary', options: { compress?: boolean } = {}): MessageWriter {
    const opcode = type === 'text' ? Opcode.Text : Opcode.Binary;
    if (this.#state !== ReadyState.Open) return MessageWriter.closed(opcode, notOpen());
    if (this.#out.writerOpen) throw new WebSocketError('ERR_WRITER_OPEN', 'another message writer is still open');
    const out = this.#out;
    const writer = new MessageWriter(opcode, out, (finished, started) => out.writerDone(writer, finished, started));
    out.takeChannel(writer, options.compress ?? true);
    return writer;
  }

  /**
   * `for await (const msg of conn)`: every message in order, ending when the connection closes. Messages queue while
   * the loop body works; past 64 of them reading pauses until it catches up, so a slow loop holds the peer back
   * instead of buffering without bound.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return new MessageIterator(this, this);
  }

  /**
   * Stops reading from the socket until resume(); pauses nest (each needs its resume). The heartbeat spares a paused
   * connection: it cannot see the pongs it does not read, and a consumer that lags is not a dead peer.
   */
  pause(): void {
    this.#pauses++;
    this.#syncFlow();
  }

  /** Undoes one pause(); reading restarts when none is left. */
  resume(): void {
    if (this.#pauses === 0) return;
    this.#pauses--;
    // Before reading has started nothing happens here: #startReading applies the count.
    this.#syncFlow();
  }

  /** Whether a pause() (or a lagging reader or iterator) is holding reading. */
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
      this.#writeCloseFrame(payload, false);
      this.#armCloseTimer();
    }
    return this.closed;
  }

  /** Drops the TCP connection at once, with no close handshake; `closed` reports 1006. */
  terminate(): void {
    this.#socket.destroy();
  }

  /**
   * The single failure path (§7.1.7): send the close code if the socket still writes, then close it, bounded.
   * `errorLater`: the failure was found inside a send (an eviction, often in a hub's fan-out loop), so 'error' waits
   * until that send has returned: a listener that sends or publishes cannot slip its message in ahead of the one
   * being fanned out.
   */
  #fail(
    code: CloseCode,
    message: string,
    errorCode: WebSocketErrorCode = protocolCodeOf(code),
    { cause, errorLater = false }: { cause?: Error; errorLater?: boolean } = {},
  ): void {
    if (this.#state === ReadyState.Closed) return;
    this.#parser.stop();
    this.#syncFlow();
    // Only the peer's violations of the protocol count as such (not our policy 1008 or a handler's 1011).
    if (code === CloseCode.ProtocolError || code === CloseCode.InvalidPayload || code === CloseCode.MessageTooBig) {
      if (this.#stats) this.#stats.protocolErrors++;
      if (protocolErrorChannel.hasSubscribers)
        protocolErrorChannel.publish({ connection: this, closeCode: code, message });
    }
    if (!this.#sentClose) {
      this.#closeCode = code;
      this.#closeReason = message;
      this.#writeCloseFrame(encodeClosePayload(code, truncateReason(message)), true);
    }
    this.#state = ReadyState.Closing;
    this.#socket.end();
    this.#armCloseTimer();
    if (this.listenerCount('error') > 0 && !this.#errorEmitted) {
      const details = cause === undefined ? {} : { cause };
      const err = isPeerViolation(errorCode)
        ? new ProtocolError(errorCode, message, { ...details, closeCode: code })
        : new WebSocketError(errorCode, message, details);
      if (errorLater) {
        this.#errorEmitted = true; // taken now: nothing else may emit one meanwhile
        queueMicrotask(() => this.#emitError(err));
      } else this.#emitError(err);
    }
  }

  /**
   * At most once per connection. A listener that throws (or, being async, rejects) cannot fail the connection a
   * second time: the connection is already going away, so its error becomes a process warning.
   */
  #emitError(err: Error): void {
    this.#errorEmitted = true;
    try {
      this.emit('error', err);
    } catch (listenerError) {
      warnOf(listenerError);
    }
  }

  /** Non-urgent: after every message sent before it. Urgent (failing): at once. */
  #writeCloseFrame(payload: Buffer, urgent: boolean): void {
    this.#sentClose = true;
    this.#out.writeClose(payload, urgent);
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== null) return;
    this.#closeTimer = this.#clock.setTimeout(() => this.#socket.destroy(), this.#limits.closeTimeout);
  }

  #onEnd(): void {
    // Frames parked by the per-turn budget, or behind a message still being inflated, came before the end: read them
    // first, or what they say (a close frame; the verdict on the message, 1009 or 1007) is lost when the transport
    // closes (an HTTP/2 stream closes as soon as both ends have ended). The close timer bounds the wait.
    if (this.#parked && !this.#parser.failed) {
      this.#endAfterParse = true;
      this.#armCloseTimer();
      return;
    }
    // The peer half-closed TCP: nothing more will arrive, so finish our side too. Bytes we still hold may never be
    // read by a peer that has gone, so the close timer bounds the wait for them.
    if (this.#state === ReadyState.Open) this.#state = ReadyState.Closing;
    this.#socket.end();
    this.#armCloseTimer();
  }

  #onSocketError(err: Error): void {
    // Nothing more can be sent: say so at once rather than accepting sends until 'close' arrives.
    if (this.#state === ReadyState.Open) this.#state = ReadyState.Closing;
    if (this.listenerCount('error') > 0 && !this.#receivedClose && !this.#errorEmitted) {
      this.#emitError(new WebSocketError('ERR_TRANSPORT', `transport error: ${err.message}`, { cause: err }));
    }
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
    this.#out.close();
    this.#closeInfo = info;
    this.#resolveClosed?.(info);
    this.#onClosed?.(this);
    if (closeChannel.hasSubscribers) closeChannel.publish({ connection: this, info });
    this.#emitClose(info);
  }

  /**
   * 'close' is the last event and others depend on it (the hub forgets the peer, an iterator ends): a listener that
   * throws or rejects must not keep it from the listeners after it, as emit() would, so each is called on its own.
   */
  #emitClose(info: CloseInfo): void {
    for (const listener of this.rawListeners('close') as Array<(info: CloseInfo) => unknown>) {
      try {
        const result = listener.call(this, info);
        if (result instanceof Promise) result.catch((err: unknown) => this.#handlerFailed(err));
      } catch (err) {
        this.#handlerFailed(err);
      }
    }
  }

  // ---- Internals -------------------------------------------------------------------------------------------------

  #control(opcode: number, data: string | Buffer): boolean {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError('control frame payload is limited to 125 bytes');
    if (this.#state !== ReadyState.Open) return false;
    this.#out.writeControl(opcode, payload);
    return true;
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
    const error = asError(err);
    // A failing 'error' listener, or any handler once the connection is failing, must not start the failure path
    // again (that loops: fail → 'error' → reject → fail...). The bug stays visible as a warning.
    if (this.#errorEmitted || this.#state !== ReadyState.Open) {
      process.emitWarning(error);
      return;
    }
    // Without an 'error' listener the exception would vanish; a warning keeps the bug visible without a crash.
    if (this.listenerCount('error') === 0) process.emitWarning(error);
    this.#fail(CloseCode.InternalError, 'handler error', 'ERR_HANDLER_FAILED', { cause: error });
  }
}

function notOpen(): WebSocketError {
  return new WebSocketError('ERR_CLOSED', 'the connection is not open');
}

const PEER_CODES: ReadonlySet<string> = new Set<ProtocolErrorCode>([
  'ERR_PROTOCOL_VIOLATION',
  'ERR_INVALID_UTF8',
  'ERR_INVALID_COMPRESSED_DATA',
  'ERR_MESSAGE_TOO_BIG',
]);

function isPeerViolation(code: WebSocketErrorCode): code is ProtocolErrorCode {
  return PEER_CODES.has(code);
}

/** Close reasons must fit in 123 bytes (§5.5.1); failure messages are cut before a UTF-8 continuation byte. */
function truncateReason(message: string): string {
  const bytes = Buffer.from(message);
  if (bytes.length <= MAX_CLOSE_REASON) return message;
  let end = MAX_CLOSE_REASON;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}
