// Public types of a connection: messages, states, close results and options.
import type { Clock } from '../clock.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';

/**
 * One whole incoming message, as the 'message' event and the async iterator give it: `type` says which of the two
 * it is, so a text message is already a string (its UTF-8 checked) and a binary one a Buffer.
 */
export type Message =
  | {
      /** A text message (opcode 0x1). */
      type: 'text';
      /** Its text, decoded from UTF-8 that was validated as it arrived (RFC 6455 §8.1). */
      data: string;
    }
  | {
      /** A binary message (opcode 0x2). */
      type: 'binary';
      /** Its bytes, reassembled from every fragment (and inflated, with permessage-deflate). */
      data: Buffer;
    };
/** `'text'` or `'binary'`. */
export type MessageType = Message['type'];

/** The numbers of the browser API's readyState; a Connection exists only once open, so it never reports 0. */
export const ReadyState = {
  /** Not used by a Connection (connect() resolves only once the handshake is done); kept for the browser's numbering. */
  Connecting: 0,
  /** The handshake is done: messages flow both ways. */
  Open: 1,
  /** A close frame was sent or received (or the connection failed): nothing more can be sent. */
  Closing: 2,
  /** The transport is closed; `conn.closed` has resolved. */
  Closed: 3,
} as const;
/** One of the {@link ReadyState} numbers. */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/**
 * What `conn.closed` resolves with. `code`: the code of the close frame received; when none came back, the code we
 * sent when we closed or failed the connection (wasClean false); 1006 when the peer vanished before either side closed.
 */
export interface CloseInfo {
  /** The close code (see {@link CloseCode}); 1005 when the peer's close frame carried none. */
  code: number;
  /** The close reason, '' when none was given. */
  reason: string;
  /** True when both close frames crossed before the transport closed (the close handshake completed). */
  wasClean: boolean;
}

/**
 * What happens to a peer that does not read while more than `maxBufferedBytes` wait for it: `'close'` fails the
 * connection with 1008 (ERR_SLOW_CONSUMER), `'drop'` skips the messages that do not fit (counted in `Stats.dropped`).
 */
export type SlowConsumerPolicy = 'close' | 'drop';

/** The options of `conn.send()`. */
export interface SendOptions {
  /** Sends a Buffer as text (it must then be valid UTF-8) or a string as binary. Default: string → text. */
  binary?: boolean;
  /** Per-message opt-out (or in, below the threshold) of permessage-deflate. */
  compress?: boolean;
}

/** Limits and policies shared by server- and client-side connections. */
export interface ConnectionLimits {
  /**
   * Largest incoming message in bytes, after inflating (default 16 MiB); a bigger one fails the connection with 1009
   * (ERR_MESSAGE_TOO_BIG). `nextReader({ maxSize })` overrides it for one streamed message.
   */
  maxMessageSize: number;
  /** Most fragments one incoming message may have (default 65 536); more fail the connection with 1009. */
  maxFragments: number;
  /** How long close() waits for the peer's close frame and for the transport to end, in ms (default 5000). */
  closeTimeout: number;
  /** `send()` returns false once this many bytes wait in the socket (default 1 MiB). */
  highWaterMark: number;
  /** Hard cap on waiting bytes (default 8 MiB); what happens above it is `onSlowConsumer`. */
  maxBufferedBytes: number;
  /** What to do with a peer above `maxBufferedBytes` (default `'close'`). */
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
