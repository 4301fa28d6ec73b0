// Sec-WebSocket-Key / Sec-WebSocket-Accept (RFC 6455 §4.1, §4.2.2 step 5.4).
import { createHash, randomBytes } from 'node:crypto';
import { WEBSOCKET_GUID } from '../protocol/constants.js';

const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/** §4.1: the key is the base64 of 16 random bytes, which is always 24 characters ending in "==". */
export function isValidKey(key: string | undefined): key is string {
  return key !== undefined && KEY_PATTERN.test(key);
}

export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

export function generateKey(): string {
  return randomBytes(16).toString('base64');
}
