// Wire constants and default limits: RFC 6455 (§5.2 opcodes, §7.4 close codes, §4.2.2 GUID), RFC 7692's sync tail.

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  /** A further fragment of the message in progress (§5.4). */
  Continuation: 0x0,
  /** The first frame of a text message. */
  Text: 0x1,
  /** The first frame of a binary message. */
  Binary: 0x2,
  /** Close (§5.5.1). */
  Close: 0x8,
  /** Ping (§5.5.2). */
  Ping: 0x9,
  /** Pong (§5.5.3). */
  Pong: 0xa,
} as const;
/** One of the {@link Opcode} numbers. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * Close codes by name (RFC 6455 §7.4.1 and the IANA registry), for `conn.close(code)` and `CloseInfo.code`. Codes
 * 3000–4999 are yours to use too; 1005, 1006 and 1015 are only ever reported, never sent.
 */
export const CloseCode = {
  /** 1000: the purpose of the connection is fulfilled (what close() sends by default). */
  Normal: 1000,
  /** 1001: going away (a server shutting down, a browser leaving the page). */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol. */
  ProtocolError: 1002,
  /** 1003: a kind of data the endpoint cannot accept (e.g. binary for a text-only endpoint). */
  UnsupportedData: 1003,
  /** 1005: reported when a close frame carried no code (never sent). */
  NoStatus: 1005,
  /** 1006: reported when the connection ended without a close frame (never sent). */
  Abnormal: 1006,
  /** 1007: data inconsistent with its type (text that is not UTF-8, deflate data that does not inflate). */
  InvalidPayload: 1007,
  /** 1008: a policy violation (e.g. a slow consumer under the 'close' policy). */
  PolicyViolation: 1008,
  /** 1009: a message too big to process (over maxMessageSize or maxFragments). */
  MessageTooBig: 1009,
  /** 1010: the client needed an extension the server did not agree to. */
  MandatoryExtension: 1010,
  /** 1011: an unexpected condition on the server (e.g. a message handler that threw). */
  InternalError: 1011,
  /** 1012: the service is restarting. */
  ServiceRestart: 1012,
  /** 1013: try again later (e.g. overloaded). */
  TryAgainLater: 1013,
  /** 1014: a gateway or proxy got an invalid response from upstream. */
  BadGateway: 1014,
  /** 1015: reported when the TLS handshake failed (never sent). */
  TlsHandshake: 1015,
} as const;
/** One of the {@link CloseCode} numbers. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** RFC 6455 §1.3: concatenated with Sec-WebSocket-Key to derive Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Largest control frame payload (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** Largest close reason in bytes: 125 minus the 2-byte code (RFC 6455 §5.5.1). */
export const MAX_CLOSE_REASON = 123;

/** A shared empty payload (never written to). */
export const EMPTY: Buffer = Buffer.alloc(0);
/**
 * RFC 7692 §7.2.1–7.2.2: a sync flush ends with an empty stored block, 00 00 ff ff, which the sender strips and the
 * receiver appends again.
 */
export const SYNC_TAIL: Buffer = Buffer.from([0x00, 0x00, 0xff, 0xff]);

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
