// The one error hierarchy: every error the library makes has a stable string `code` (one per cause, listed below), a
// message for people, an optional `cause`, and — by subclass — the close code or the HTTP status that goes with it.
// Every constructor has the same shape: (code, message, details).
import type { CloseCode } from './protocol/constants.js';

/** Causes the peer is to blame for: RFC 6455 / RFC 7692 violations (ProtocolError). */
export type ProtocolErrorCode =
  /** Framing, masking, RSV bits, opcodes, control frames or a close payload broke RFC 6455 (close code 1002). */
  | 'ERR_PROTOCOL_VIOLATION'
  /** A text message or close reason that is not UTF-8 (1007). */
  | 'ERR_INVALID_UTF8'
  /** permessage-deflate data that does not inflate (1007). */
  | 'ERR_INVALID_COMPRESSED_DATA'
  /** A message over the size limit, inflated or not, or with too many fragments (1009). */
  | 'ERR_MESSAGE_TOO_BIG';

/** Why a client's opening handshake failed (HandshakeError). */
export type HandshakeErrorCode =
  /** The server answered with another status than 101 (HTTP/2: 200); `status`, `headers` and `body` say how. */
  | 'ERR_HANDSHAKE_REFUSED'
  /** The server's 101 broke the handshake's rules (accept key, Upgrade, extensions, subprotocol). */
  | 'ERR_HANDSHAKE_INVALID'
  /** No complete answer within `handshakeTimeout`. */
  | 'ERR_HANDSHAKE_TIMEOUT'
  /** No answer at all: TCP, TLS or DNS failed, or the server hung up before answering. */
  | 'ERR_CONNECT_FAILED'
  /** The caller's AbortSignal fired. */
  | 'ERR_ABORTED';

/** Every `code` a {@link WebSocketError} (or one of its subclasses) can carry: one per cause, stable across releases. */
export type WebSocketErrorCode =
  | ProtocolErrorCode
  | HandshakeErrorCode
  /** The peer did not read while we held more than maxBufferedBytes for it ('close' policy: close code 1008). */
  | 'ERR_SLOW_CONSUMER'
  /** A listener of ours threw or rejected (the connection closes with 1011; the listener's error is the cause). */
  | 'ERR_HANDLER_FAILED'
  /** A writer() was destroyed in the middle of its message (1011: nothing valid can follow it). */
  | 'ERR_WRITER_DESTROYED'
  /** zlib failed on an outgoing message (1011). */
  | 'ERR_COMPRESSION_FAILED'
  /** The transport (socket or HTTP/2 stream) failed; its error is the cause. */
  | 'ERR_TRANSPORT'
  /** An operation that waits (drained(), nextReader(), a writer) on a connection that is not open, or that closed. */
  | 'ERR_CLOSED'
  /** writer() while another writer of the same connection is still open. */
  | 'ERR_WRITER_OPEN'
  /** Redis gave no answer within its bound (the Redis adapter and history). */
  | 'ERR_REDIS_TIMEOUT'
  /** Redis could not be reached, or the connection was lost while a command waited. */
  | 'ERR_REDIS_UNAVAILABLE';

/**
 * The base of every error the library makes: switch on `code` (one per cause, see {@link WebSocketErrorCode}) rather
 * than on the message, which is for people. `cause` holds the underlying error when there is one.
 */
export class WebSocketError extends Error {
  /** What went wrong, as a stable string. */
  readonly code: WebSocketErrorCode;
  constructor(code: WebSocketErrorCode, message: string, details: { cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WebSocketError';
    this.code = code;
  }
}

/** A violation of RFC 6455 / RFC 7692 by the peer; `closeCode` is what went on the wire. */
export class ProtocolError extends WebSocketError {
  /** Which rule the peer broke. */
  declare readonly code: ProtocolErrorCode;
  /** The close code we sent the peer: 1002, 1007 or 1009. */
  readonly closeCode: CloseCode;
  constructor(code: ProtocolErrorCode, message: string, details: { closeCode: CloseCode; cause?: unknown }) {
    super(code, message, details);
    this.name = 'ProtocolError';
    this.closeCode = details.closeCode;
  }
}

/** The details of a {@link HandshakeError} (the last argument of its constructor). */
export interface HandshakeErrorDetails {
  /** The HTTP status the server answered (client) or was sent (server); 0 when there was none. */
  status?: number;
  /** The server's response headers, lower-cased, when it answered. */
  headers?: Record<string, string | string[] | undefined>;
  /** The start of the response body (at most 1 KiB), as text, when it answered with one. */
  body?: string;
  /** The underlying error (a socket or TLS failure), if any. */
  cause?: unknown;
}

/** The opening handshake failed. */
export class HandshakeError extends WebSocketError {
  /** Why the handshake failed. */
  declare readonly code: HandshakeErrorCode;
  /** The HTTP status the server answered (e.g. 403 for a refused origin, 401 from `authorize`); 0 when none. */
  readonly status: number;
  /** The server's response headers, lower-cased ({} when it did not answer). */
  readonly headers: Record<string, string | string[] | undefined>;
  /** The start of the response body (at most 1 KiB), which usually says why the server refused; '' when none. */
  readonly body: string;
  constructor(code: HandshakeErrorCode, message: string, details: HandshakeErrorDetails = {}) {
    super(code, message, details);
    this.name = 'HandshakeError';
    this.status = details.status ?? 0;
    this.headers = details.headers ?? {};
    this.body = details.body ?? '';
  }
}

/** The peer's violation for a close code the parser or the inflater chose. */
export function protocolCodeOf(closeCode: number): ProtocolErrorCode {
  if (closeCode === 1009) return 'ERR_MESSAGE_TOO_BIG';
  if (closeCode === 1007) return 'ERR_INVALID_UTF8';
  return 'ERR_PROTOCOL_VIOLATION';
}

/** `err` as an Error: a listener may throw anything. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A bug in the application (a listener that threw) that the library survives: kept visible as a process warning. */
export function warnOf(err: unknown): void {
  process.emitWarning(asError(err));
}
