// Streaming one large message (gorilla's NextReader / NextWriter) with stream backpressure both ways (RFC 6455 §5.4).
import { Readable, Writable } from 'node:stream';
import { Opcode } from '../protocol/constants.js';
import type { MessageType } from './types.js';

export interface IncomingStream {
  pushChunk(chunk: Buffer): void;
  finish(): void;
  abort(err: Error): void;
}

interface PausableSource {
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

  pushChunk(chunk: Buffer): void {
    if (!this.push(chunk) && !this.#paused) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  finish(): void {
    this.push(null);
    this.#unpause();
  }

  abort(err: Error): void {
    this.destroy(err);
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
  writeFragment(opcode: number, payload: Buffer, fin: boolean): boolean;
  drained(): Promise<void>;
}

/** One outgoing message as a Writable: each write becomes a fragment, end() sends the final one. */
export class MessageWriter extends Writable {
  readonly #opcode: number;
  readonly #sink: FragmentSink;
  readonly #onDone: () => void;
  #started = false;

  constructor(opcode: number, sink: FragmentSink, onDone: () => void) {
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
      this.#onDone();
      cb(err);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#onDone();
    cb(err);
  }

  #fragment(payload: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    const opcode = this.#started ? Opcode.Continuation : this.#opcode;
    this.#started = true;
    let below: boolean;
    try {
      below = this.#sink.writeFragment(opcode, payload, fin);
    } catch (err) {
      cb(err as Error);
      return;
    }
    if (below) cb();
    else this.#sink.drained().then(() => cb(), cb);
  }
}
