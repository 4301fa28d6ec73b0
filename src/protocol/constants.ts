// Wire constants and default limits for RFC 6455 (§5.2 opcodes, §7.4 close codes, §4.2.2 GUID).

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  TlsHandshake: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** RFC 6455 §1.3: concatenated with Sec-WebSocket-Key to derive Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Largest control frame payload (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** Largest close reason in bytes: 125 minus the 2-byte code (RFC 6455 §5.5.1). */
export const MAX_CLOSE_REASON = 123;

/** A shared empty payload (never written to). */
export const EMPTY: Buffer = Buffer.alloc(0);

export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/**
 * Autobahn 9.3.1 sends a 4 MiB message in 64-byte fragments: 65,536 of them, the most any known peer needs. A message's
 * memory does not grow with its fragment count (payload-buffer.ts); this bounds the parsing work one message can cost.
 */
export const DEFAULT_MAX_FRAGMENTS = 1 << 16;
export const DEFAULT_CLOSE_TIMEOUT = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
export const DEFAULT_HEARTBEAT_INTERVAL = 25_000;
export const DEFAULT_HEARTBEAT_TIMEOUT = 10_000;
