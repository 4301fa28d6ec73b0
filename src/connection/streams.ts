// Streaming one large message (gorilla's NextReader / NextWriter) with stream backpressure both ways (RFC 6455 §5.4).
import { Readable, Writable } from 'node:stream';
import { Opcode } from '../protocol/constants.js';
import type { MessageType } from './types.js';

export interface IncomingStream {
  pushChunk(chunk: Buffer): void;
  finish(): void;
  abort(err: Error): void;
  /** True while the consumer lags (the socket is paused for it): a compressed message stops inflating too. */
  readonly saturated: boolean;
}

/** What pauses reading while a consumer lags: the connection, which tells its heartbeat. */
export interface PausableSource {
  pause(): unknown;
  resume(): unknown;
}

/**
 * One incoming message as a Readable, from `conn.nextReader()`: its payload's bytes as they arrive (inflated, with
 * permessage-deflate), ending with the message. The socket pauses while the consumer lags. If the connection closes
 * mid-message the stream is destroyed: with an ERR_CLOSED error when it has an 'error' listener, else quietly
 * (`readableAborted` tells).
 */
export class MessageReader extends Readable implements IncomingStream {
  /** Whether the message is text or binary (a text message's bytes are UTF-8, checked as they arrive). */
  readonly type: MessageType;
  readonly #source: PausableSource;
  #paused = false;

  /** @internal */
  constructor(type: MessageType, source: PausableSource) {
    super();
    this.type = type;
    this.#source = source;
  }

  /** @internal */
  get saturated(): boolean {
    return this.#paused;
  }

  /** @internal */
  pushChunk(chunk: Buffer): void {
    // A reader its consumer destroyed takes nothing more (its _destroy resumed the socket).
    if (this.destroyed) return;
    if (!this.push(chunk) && !this.#paused) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  /** @internal */
  finish(): void {
    if (!this.destroyed) this.push(null);
    this.#unpause();
  }

  /**
   * The connection closed mid-message. The stream is destroyed with the error only when someone listens for it:
   * `.pipe()` rethrows an unhandled one as an uncaught exception. Otherwise 'close' (readableAborted) tells.
   * @internal
   */
  abort(err: Error): void {
    this.destroy(this.listenerCount('error') > 0 ? err : undefined);
  }

  /** @internal */
  override _read(): void {
    this.#unpause();
  }

  /**
   * A consumer that destroys the reader mid-message must not leave the socket (and a compressed message's inflating)
   * paused for good: no chunk may ever arrive again to notice it.
   * @internal
   */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#unpause();
    cb(err);
  }

  #unpause(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#source.resume();
  }
}

export interface FragmentSink {
  /** True: go on; false: wait for socketDrained(); null: the connection is not open any more (or a promise of these). */
  writeFragment(opcode: number, payload: Buffer, fin: boolean): boolean | null | Promise<boolean | null>;
  /** Resolves when the bytes in the socket have reached the kernel (not waiting for sends held behind the writer). */
  socketDrained(): Promise<void>;
}

/**
 * One outgoing message as a Writable, from `conn.writer(type)`: each write becomes a fragment, end() sends the final
 * one; other sends of the connection wait until it ends. A write calls back once its fragment is in the socket below
 * the high-water mark, so `pipeline(file, writer)` follows the peer's pace. Destroying it mid-message fails the
 * connection with 1011 (ERR_WRITER_DESTROYED: nothing valid can follow a cut message).
 */
export class MessageWriter extends Writable {
  readonly #opcode: number;
  readonly #sink: FragmentSink;
  readonly #onDone: (finished: boolean, started: boolean) => void;
  #started = false;
  #done = false;

  /**
   * A writer for a connection that is not open: destroyed at once (on the next tick, once the caller has attached
   * its listeners or pipeline), with `err` only when someone listens for errors, like a reader whose connection ends.
   * @internal
   */
  static closed(opcode: number, err: Error): MessageWriter {
    const writer = new MessageWriter(opcode, CLOSED_SINK, () => {});
    process.nextTick(() => writer.destroy(writer.listenerCount('error') > 0 ? err : undefined));
    return writer;
  }

  /**
   * `onDone` runs exactly once: finished true after the final frame, false when destroyed before it.
   * @internal
   */
  constructor(opcode: number, sink: FragmentSink, onDone: (finished: boolean, started: boolean) => void) {
    super({ decodeStrings: true });
    this.#opcode = opcode;
    this.#sink = sink;
    this.#onDone = onDone;
  }

  /** @internal */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (chunk.length === 0) {
      cb();
      return;
    }
    this.#fragment(chunk, false, cb);
  }

  /** @internal */
  override _final(cb: (err?: Error | null) => void): void {
    this.#fragment(Buffer.alloc(0), true, (err) => {
      this.#finish(!err);
      cb(err);
    });
  }

  /** @internal */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#finish(false);
    cb(err);
  }

  #finish(finished: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#onDone(finished, this.#started);
  }

  #fragment(payload: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    const opcode = this.#started ? Opcode.Continuation : this.#opcode;
    this.#started = true;
    const result = this.#sink.writeFragment(opcode, payload, fin);
    if (result instanceof Promise) result.then((below) => this.#written(below, cb));
    else this.#written(result, cb);
  }

  #written(below: boolean | null, cb: (err?: Error | null) => void): void {
    if (below === null) {
      // The connection went away: end quietly (an error here would reach `.pipe()` as an uncaught exception).
      cb();
      this.destroy();
    } else if (below) {
      cb();
    } else {
      this.#sink.socketDrained().then(
        () => cb(),
        () => {
          cb();
          this.destroy();
        },
      );
    }
  }
}

/** Where a writer made for a closed connection writes: nowhere (it is destroyed before any write arrives). */
const CLOSED_SINK: FragmentSink = {
  writeFragment: () => null,
  socketDrained: () => Promise.resolve(),
};
