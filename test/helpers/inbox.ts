// Messages arriving at a connection (ours or another library's), awaitable one at a time with a deadline, so a test
// that misses a message fails naming what it waited for instead of hanging.
import type { Connection } from '../../src/connection/connection.js';
import type { Message } from '../../src/connection/types.js';
import { within } from './raw-peer.js';

export class Inbox<T> {
  readonly messages: T[] = [];
  readonly #wait: number;
  readonly #what: string;
  #read = 0;
  #waiters: Array<() => void> = [];

  /** `wait` bounds each next() by default; `what` names the awaited message in the timeout error. */
  constructor(wait: number, what: string) {
    this.#wait = wait;
    this.#what = what;
  }

  push(message: T): void {
    this.messages.push(message);
    for (const w of this.#waiters.splice(0)) w();
  }

  async next(ms = this.#wait): Promise<T> {
    while (this.#read >= this.messages.length) {
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), ms, this.#what);
    }
    return this.messages[this.#read++]!;
  }
}

/** An inbox of every message `conn` receives from now on. */
export function inboxOf(conn: Connection, wait: number, what: string): Inbox<Message> {
  const inbox = new Inbox<Message>(wait, what);
  conn.on('message', (m) => inbox.push(m));
  return inbox;
}
