/**
 * The public API of switchboard: a WebSocket server and client (RFC 6455, RFC 7692 permessage-deflate, RFC 8441
 * over HTTP/2), the connection they hand out, and a hub that publishes to many connections at once.
 *
 * @module switchboard
 */
export { type Clock, systemClock } from './clock.js';
export { connect, type ConnectOptions } from './client.js';
export { Connection, type ConnectionEvents } from './connection/connection.js';
export { Heartbeat, type HeartbeatOptions, type Pingable } from './connection/heartbeat.js';
export { PreparedMessage, type PreparedMessageOptions } from './connection/prepared-message.js';
export type { MessageReader, MessageWriter } from './connection/streams.js';
export {
  type CloseInfo,
  type ConnectionLimits,
  type Message,
  type MessageType,
  ReadyState,
  type SendOptions,
  type SlowConsumerPolicy,
} from './connection/types.js';
export {
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeErrorDetails,
  ProtocolError,
  type ProtocolErrorCode,
  WebSocketError,
  type WebSocketErrorCode,
} from './errors.js';
export type { CompressionConfig, CompressionMode, CompressionOption } from './extensions/permessage-deflate.js';
export type { WebSocketRequest } from './handshake/pending-handshake.js';
export type { OriginPolicy } from './handshake/server-handshake.js';
export { isWebSocketConnect } from './http2/connect-request.js';
export type { AnyHttp2Server } from './http2/server-streams.js';
export { CloseCode, Opcode } from './protocol/constants.js';
export { type ServerEvents, type ServerOptions, WebSocketServer } from './server.js';
export { closeChannel, openChannel, protocolErrorChannel, Stats } from './stats.js';
export {
  type GapInfo,
  Hub,
  type HubAdapter,
  type HubMessage,
  type HubOptions,
  type HubStats,
  type PublishOptions,
  type RecordOptions,
} from './hub.js';
export {
  type HistoryEntry,
  type HistoryStore,
  MemoryHistory,
  type MemoryHistoryOptions,
  memoryHistory,
  type Recovery,
} from './history.js';
