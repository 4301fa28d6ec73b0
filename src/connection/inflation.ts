// Inflates one compressed message as its fragments arrive (RFC 7692 §7.2.2), in bounded slices: when a slice leaves
// work over, the frame parser halts (the socket waits) and the rest runs on later turns of the shared CPU budget, so a
// message that inflates to 64 MiB never holds the event loop, and a connection never queues more than one read.
import { ProtocolError, type ProtocolErrorCode } from '../errors.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { CloseCode } from '../protocol/constants.js';
import { later } from './cpu-budget.js';

/** Output bytes (plus block costs) one slice may produce: ~1 ms of inflating. */
export const INFLATE_SLICE = 256 * 1024;

export interface InflationHost {
  /** More inflating is due before the next frame: stop parsing (the socket waits). */
  halt(): void;
  /** The message needs more input, or is done: parse on. */
  resumeInput(): void;
  fail(code: CloseCode, message: string, errorCode?: ProtocolErrorCode): void;
  /** False once the connection stopped reading for good (closed or failed): pending slices are dropped. */
  reading(): boolean;
  /** Inflated bytes, in order; false stops the message (the host has failed it). */
  output(chunk: Buffer): boolean;
  /** The message's last byte was output. */
  done(): void;
  /** True while the message's consumer (a streaming reader) wants no more for now. */
  saturated(): boolean;
}

export class Inflation {
  readonly #deflate: PerMessageDeflate;
  readonly #host: InflationHost;
  readonly #onChunk = (chunk: Buffer): void => {
    if (this.#ok && !this.#host.output(chunk)) this.#ok = false;
  };
  #active = false;
  #ok = true;
  /** A slice is scheduled, or waits for the consumer to ask for more. */
  #suspended = false;
  #waitingForConsumer = false;

  constructor(deflate: PerMessageDeflate, host: InflationHost) {
    this.#deflate = deflate;
    this.#host = host;
  }

  get active(): boolean {
    return this.#active;
  }

  begin(limit: number): void {
    this.#deflate.beginInflate(limit);
    this.#active = true;
    this.#ok = true;
  }

  /**
   * Compressed bytes from the parser (kept by reference until inflated). `endFollows`: they are the message's last and
   * end() comes next, in the same turn; inflating then waits for it, so a message that arrived whole is decoded in one
   * pass and comes out as one chunk (stopping for input first would deliver a second, tiny chunk and cost a copy).
   */
  push(chunk: Buffer, endFollows: boolean): void {
    this.#deflate.pushCompressed(chunk);
    if (!this.#suspended && !endFollows) this.#slice(true);
  }

  /** The message's last compressed byte was pushed. */
  end(): void {
    this.#deflate.endCompressed();
    if (!this.#suspended) this.#slice(true);
  }

  /** The consumer asks for more: a slice that waited for it runs. */
  kick(): void {
    if (!this.#waitingForConsumer) return;
    this.#waitingForConsumer = false;
    this.#schedule();
  }

  /** `inParser`: called from a parser callback, where halting stops the parser after it returns. */
  #slice(inParser: boolean): void {
    let status: ReturnType<PerMessageDeflate['inflate']>;
    try {
      status = this.#deflate.inflate(INFLATE_SLICE, this.#onChunk);
    } catch (err) {
      this.#active = false;
      if (err instanceof ProtocolError) this.#host.fail(err.closeCode, err.message, err.code);
      else this.#host.fail(CloseCode.InvalidPayload, String(err), 'ERR_INVALID_COMPRESSED_DATA');
      return;
    }
    if (!this.#ok) {
      this.#active = false;
      return;
    }
    if (status === 'budget') {
      if (inParser) this.#host.halt();
      this.#suspended = true;
      if (this.#host.saturated()) this.#waitingForConsumer = true;
      else this.#schedule();
      return;
    }
    const wasSuspended = this.#suspended;
    this.#suspended = false;
    if (status === 'done') {
      this.#active = false;
      this.#host.done();
    }
    if (wasSuspended) this.#host.resumeInput();
  }

  #schedule(): void {
    later(() => {
      if (!this.#host.reading()) return;
      if (this.#host.saturated()) {
        this.#waitingForConsumer = true;
        return;
      }
      this.#slice(false);
    });
  }
}
