// `for await (const msg of conn)`: messages queue while the consumer works, and the socket pauses when it lags.
import type { PausableSource } from './streams.js';
import { type CloseInfo, type Message, ReadyState } from './types.js';

/** What the iterator listens to: a connection's message and close events. */
export interface MessageSource {
  readonly readyState: number;
  on(event: 'message', fn: (msg: Message) => void): unknown;
  on(event: 'close', fn: (info: CloseInfo) => void): unknown;
  off(event: 'message', fn: (msg: Message) => void): unknown;
  off(event: 'close', fn: (info: CloseInfo) => void): unknown;
}

/** Queued messages past which the socket is paused until the consumer catches up. */
const PAUSE_AT = 64;

export class MessageIterator implements AsyncIterator<Message> {
  readonly #conn: MessageSource;
  readonly #source: PausableSource;
  #queue: Message[] = [];
  #waiting: ((r: IteratorResult<Message>) => void) | null = null;
  #done = false;
  #paused = false;
  readonly #onMessage = (msg: Message): void => {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      waiting({ value: msg, done: false });
      return;
    }
    this.#queue.push(msg);
    if (this.#queue.length >= PAUSE_AT && !this.#paused) {
      this.#paused = true;
      this.#source.pause();
    }
  };
  readonly #onClose = (_info: CloseInfo): void => {
    this.#done = true;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.({ value: undefined, done: true });
  };

  constructor(conn: MessageSource, source: PausableSource) {
    this.#conn = conn;
    this.#source = source;
    conn.on('message', this.#onMessage);
    conn.on('close', this.#onClose);
    if (conn.readyState === ReadyState.Closed) this.#done = true;
  }

  next(): Promise<IteratorResult<Message>> {
    const msg = this.#queue.shift();
    if (msg) {
      if (this.#paused && this.#queue.length < PAUSE_AT / 2) {
        this.#paused = false;
        this.#source.resume();
      }
      return Promise.resolve({ value: msg, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<Message>> {
    this.#done = true;
    this.#queue = [];
    this.#conn.off('message', this.#onMessage);
    this.#conn.off('close', this.#onClose);
    if (this.#paused) this.#source.resume();
    return Promise.resolve({ value: undefined, done: true });
  }
}
