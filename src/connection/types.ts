// Public types of a connection: messages, states, close results and options.
import type { Clock } from '../clock.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';

export type Message = { type: 'text'; data: string } | { type: 'binary'; data: Buffer };
export type MessageType = Message['type'];

/** The numbers of the browser API's readyState; a Connection exists only once open, so it never reports 0. */
export const ReadyState = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/**
 * What `conn.closed` resolves with. `code`: the code of the close frame received; when none came back, the code we
 * sent when we closed or failed the connection (wasClean false); 1006 when the peer vanished before either side closed.
 */
export interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}

export type SlowConsumerPolicy = 'close' | 'drop';

export interface SendOptions {
  /** Sends a Buffer as text (it must then be valid UTF-8) or a string as binary. Default: string → text. */
  binary?: boolean;
  /** Per-message opt-out (or in, below the threshold) of permessage-deflate. */
  compress?: boolean;
}

/** Limits and policies shared by server- and client-side connections. */
export interface ConnectionLimits {
  maxMessageSize: number;
  maxFragments: number;
  closeTimeout: number;
  /** `send()` returns false once this many bytes wait in the socket. */
  highWaterMark: number;
  /** Hard cap on waiting bytes; what happens above it is `onSlowConsumer`. */
  maxBufferedBytes: number;
  onSlowConsumer: SlowConsumerPolicy;
}

export interface ConnectionOptions {
  /** Shared by every connection of a server: kept by reference, never copied per connection. */
  limits: ConnectionLimits;
  role: 'server' | 'client';
  protocol: string;
  extensions: string;
  deflate: PerMessageDeflate | null;
  clock: Clock;
}
