// The bytes a message travels in over Redis pub/sub, and their check on the way in: whatever else writes to a channel,
// nothing reaches the hub that is not a well-formed envelope of a bounded size whose text is valid UTF-8 (a text
// message that is not would be framed as text and close every subscriber with 1007).
//
// Envelope: [0] version, [1] kind (0 text, 1 binary, 2 skip marker), [2..18) node id, [18..24) the node's sequence
// number (uint48 BE, one per message, all topics), [24..30) the node's sequence number within the topic, then the
// bytes. A skip marker has no bytes: it stands for messages of the topic the node dropped (outage buffer overflow),
// so a receiver learns of them even when nothing else of that topic follows.
import { isUtf8 } from 'node:buffer';
import type { HubMessage } from '../hub-message.js';

const VERSION = 2;
export const NODE_ID_BYTES = 16;
export const HEADER_BYTES = 2 + NODE_ID_BYTES + 6 + 6;
const KIND = { text: 0, binary: 1, skip: 2 } as const;

/** A message as it travels over Redis, decoded: who sent it and its place in that node's numbering. */
export interface Envelope {
  /** The sending node's random id (16 bytes). */
  nodeId: Buffer;
  /** The node's sequence number, one per message over all topics. */
  seq: number;
  /** The node's sequence number within the topic: a jump means lost messages. */
  topicSeq: number;
  /** null for a skip marker. */
  msg: HubMessage | null;
}

/** `msg` null makes a skip marker: `topicSeq` is then the last of the topic's sequence numbers skipped. */
export function encodeEnvelope(nodeId: Buffer, seq: number, topicSeq: number, msg: HubMessage | null): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + (msg?.data.length ?? 0));
  out[0] = VERSION;
  out[1] = msg === null ? KIND.skip : KIND[msg.type];
  nodeId.copy(out, 2);
  out.writeUIntBE(seq, 2 + NODE_ID_BYTES, 6);
  out.writeUIntBE(topicSeq, 2 + NODE_ID_BYTES + 6, 6);
  msg?.data.copy(out, HEADER_BYTES);
  return out;
}

/** The envelope, or null when `buf` is not one this node may pass on (too big, bad header, text not UTF-8...). */
export function decodeEnvelope(buf: Buffer, maxMessageSize: number): Envelope | null {
  if (!Buffer.isBuffer(buf) || buf.length < HEADER_BYTES || buf[0] !== VERSION) return null;
  if (buf.length - HEADER_BYTES > maxMessageSize) return null;
  const seq = buf.readUIntBE(2 + NODE_ID_BYTES, 6);
  const topicSeq = buf.readUIntBE(2 + NODE_ID_BYTES + 6, 6);
  if (seq === 0 || topicSeq === 0) return null;
  const nodeId = buf.subarray(2, 2 + NODE_ID_BYTES);
  const data = buf.subarray(HEADER_BYTES);
  switch (buf[1]) {
    case KIND.text:
      return isUtf8(data) ? { nodeId, seq, topicSeq, msg: { type: 'text', data } } : null;
    case KIND.binary:
      return { nodeId, seq, topicSeq, msg: { type: 'binary', data } };
    case KIND.skip:
      return data.length === 0 ? { nodeId, seq, topicSeq, msg: null } : null;
    default:
      return null;
  }
}
