// A chat client for the demo-app tests (apps/chat.ts over a real socket): sends requests as JSON and awaits the
// events it receives, each wait bounded, so a missing event fails naming what was awaited.
import type { TestContext } from 'node:test';
import { type Connection, connect } from '../../src/index.js';
import { CHAT_LIMITS } from '../../apps/chat-protocol.js';
import { Inbox } from './inbox.js';

export type ChatEventJson = Record<string, unknown> & { type: string };

export interface ChatPeer {
  conn: Connection;
  /** Every event received so far, in order. */
  events: ChatEventJson[];
  send(request: object): void;
  /** The first event not yet returned by next() that matches (events skipped on the way stay readable in `events`). */
  next(match?: (e: ChatEventJson) => boolean): Promise<ChatEventJson>;
  /** Joins and resolves with the welcome (an error event rejects). */
  join(room: string, name: string, extra?: object): Promise<ChatEventJson>;
}

export const CHAT_WAIT = 5_000;

/** A chat connection to `url` (ws://host:port/chat), closed when the test ends. */
export async function chatPeer(t: TestContext, url: string): Promise<ChatPeer> {
  const conn = await connect(url);
  t.after(() => conn.terminate());
  const inbox = new Inbox<ChatEventJson>(CHAT_WAIT, `a chat event at ${url}`);
  conn.on('message', (msg) => inbox.push(JSON.parse(String(msg.data)) as ChatEventJson));
  const next = async (match: (e: ChatEventJson) => boolean = () => true): Promise<ChatEventJson> => {
    for (;;) {
      const e = await inbox.next();
      if (match(e)) return e;
    }
  };
  const send = (request: object): void => {
    conn.send(JSON.stringify(request));
  };
  return {
    conn,
    events: inbox.messages,
    send,
    next,
    async join(room, name, extra = {}) {
      send({ type: 'join', room, name, ...extra });
      const e = await next((x) => x.type === 'welcome' || x.type === 'error');
      if (e.type === 'error') throw new Error(`join refused: ${String(e.message)}`);
      return e;
    },
  };
}

let speakers = 0;

/** `count` messages said in `room`, spread over enough speakers to stay under the rate limit; resolves once echoed. */
export async function talk(make: () => Promise<ChatPeer>, room: string, count: number): Promise<void> {
  const per = CHAT_LIMITS.rate.burst - 1;
  for (let i = 0; i < count; ) {
    const peer = await make();
    await peer.join(room, `speaker ${++speakers}`); // never a name still leaving
    const n = Math.min(per, count - i);
    for (let k = 0; k < n; k++) peer.send({ type: 'say', text: `said ${i + k}` });
    for (let k = 0; k < n; k++) await peer.next((e) => e.type === 'message' && e.text === `said ${i + k}`);
    i += n;
    await peer.conn.close();
  }
}
