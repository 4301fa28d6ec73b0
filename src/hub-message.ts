// The message type the hub, its history stores and its adapters exchange: bytes, so binary data survives any
// transport (a module of its own so that history stores and adapters need not import the hub).
import type { MessageType } from './connection/types.js';

/** A message as it travels between nodes: bytes, so binary data survives any transport. */
export interface HubMessage {
  /** Sent to subscribers as a text or a binary message. */
  type: MessageType;
  /** The payload (UTF-8 bytes for text). */
  data: Buffer;
}
