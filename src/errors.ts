// The one error hierarchy: a stable string `code`, an optional `cause`, and the close code or HTTP status that goes with it.
import type { CloseCode } from './protocol/constants.js';

export type WebSocketErrorCode =
  | 'ERR_PROTOCOL'
  | 'ERR_HANDSHAKE'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_NOT_OPEN'
  | 'ERR_CLOSED';

export class WebSocketError extends Error {
  readonly code: WebSocketErrorCode;
  constructor(code: WebSocketErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebSocketError';
    this.code = code;
  }
}

/** A violation of RFC 6455 / RFC 7692 by the peer; `closeCode` is what went on the wire. */
export class ProtocolError extends WebSocketError {
  readonly closeCode: CloseCode;
  constructor(closeCode: CloseCode, message: string) {
    super('ERR_PROTOCOL', message);
    this.name = 'ProtocolError';
    this.closeCode = closeCode;
  }
}

/** The opening handshake failed; `status` is the HTTP status seen (client) or sent (server), 0 when there was none. */
export class HandshakeError extends WebSocketError {
  readonly status: number;
  constructor(message: string, status = 0, code: WebSocketErrorCode = 'ERR_HANDSHAKE', options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'HandshakeError';
    this.status = status;
  }
}
