// The message type the hub, its history stores and its adapters exchange: bytes, so binary data survives any
// transport (a module of its own so that history stores and adapters need not import the hub).
import type { MessageType } from './connection/types.js';

/** A message as it travels between nodes: bytes, so binary data survives any transport. */
export interface HubMessage {
  type: MessageType;
  data: Buffer;
}
