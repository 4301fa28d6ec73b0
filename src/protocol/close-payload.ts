// Close frame payloads (RFC 6455 §5.5.1, §7.4): a 2-byte code then a UTF-8 reason of at most 123 bytes.
import { CloseCode, MAX_CLOSE_REASON } from './constants.js';
import { isValidUtf8 } from './utf8.js';

export type DecodedClose =
  | { ok: true; code: number; reason: string }
  | { ok: false; closeCode: CloseCode; message: string };

/**
 * §7.4.1/§7.4.2 and the IANA registry: 1000–1003 and 1007–1014 are defined for the wire; 1004 is reserved, 1005/1006/
 * 1015 must never be sent; 1016–2999 are reserved for future RFCs; 3000–4999 belong to libraries and applications.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

export function decodeClosePayload(payload: Buffer): DecodedClose {
  if (payload.length === 0) return { ok: true, code: CloseCode.NoStatus, reason: '' };
  // §5.5.1: if there is a body, its first two bytes are the code, so one byte alone is malformed.
  if (payload.length === 1)
    return { ok: false, closeCode: CloseCode.ProtocolError, message: 'close payload of 1 byte' };
  const code = payload.readUInt16BE(0);
  if (!isValidWireCloseCode(code)) {
    return { ok: false, closeCode: CloseCode.ProtocolError, message: `invalid close code ${code}` };
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    return { ok: false, closeCode: CloseCode.InvalidPayload, message: 'close reason is not valid UTF-8' };
  }
  return { ok: true, code, reason: reasonBytes.toString('utf8') };
}

/** Builds a close payload; throws at once on a code or reason the RFC forbids on the wire (caller misuse). */
export function encodeClosePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined) {
    if (reason !== '') throw new TypeError('a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
  const reasonLength = Buffer.byteLength(reason);
  if (reasonLength > MAX_CLOSE_REASON) {
    throw new RangeError(`close reason is ${reasonLength} bytes; at most ${MAX_CLOSE_REASON} fit in a close frame`);
  }
  const out = Buffer.allocUnsafe(2 + reasonLength);
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, 'utf8');
  return out;
}
