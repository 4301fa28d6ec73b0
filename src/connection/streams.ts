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

/** One incoming message as a Readable: the socket pauses while the consumer lags. */
export class MessageReader extends Readable implements IncomingStream {
  readonly type: MessageType;
  readonly #source: PausableSource;
  #paused = false;

  constructor(type: MessageType, source: PausableSource) {
    super();
    this.type = type;
    this.#source = source;
  }

  get saturated(): boolean {
    return this.#paused;
  }

  pushChunk(chunk: Buffer): void {
    // A reader its consumer destroyed takes nothing more, and must not leave the socket paused for good.
    if (this.destroyed) {
      this.#unpause();
      return;
    }
    if (!this.push(chunk) && !this.#paused) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  finish(): void {
    if (!this.destroyed) this.push(null);
    this.#unpause();
  }

  /**
   * The connection closed mid-message. The stream is destroyed with the error only when someone listens for it:
   * `.pipe()` rethrows an unhandled one as an uncaught exception. Otherwise 'close' (readableAborted) tells.
   */
  abort(err: Error): void {
    this.destroy(this.listenerCount('error') > 0 ? err : undefined);
    this.#unpause();
  }

  override _read(): void {
    this.#unpause();
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

/** One outgoing message as a Writable: each write becomes a fragment, end() sends the final one. */
export class MessageWriter extends Writable {
  readonly #opcode: number;
  readonly #sink: FragmentSink;
  readonly #onDone: (finished: boolean, started: boolean) => void;
  #started = false;
  #done = false;

  /** `onDone` runs exactly once: finished true after the final frame, false when destroyed before it. */
  constructor(opcode: number, sink: FragmentSink, onDone: (finished: boolean, started: boolean) => void) {
    super({ decodeStrings: true });
    this.#opcode = opcode;
    this.#sink = sink;
    this.#onDone = onDone;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (chunk.length === 0) {
      cb();
      return;
    }
    this.#fragment(chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#fragment(Buffer.alloc(0), true, (err) => {
      this.#finish(!err);
      cb(err);
    });
  }

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
