// The server's side of the opening handshake (RFC 6455 §4.2): checks a client's upgrade request and builds the
// 101 answer, or names the HTTP status and reason to refuse it with. Pure: no sockets.
import type { IncomingHttpHeaders } from 'node:http';
import { acceptKey, isValidKey } from './accept-key.js';
import { isToken, listHasToken, splitList } from './tokens.js';

/**
 * Which browser pages may open a WebSocket (checked against the Origin header; a request without one, from a client
 * that is not a browser, always passes): `'same-origin'` (the default: the page's origin must match the Host),
 * `'*'` (any), a list of origins such as `['https://app.example.com']`, or a function of the origin and the Host.
 * A refused origin is answered 403.
 */
export type OriginPolicy = 'same-origin' | '*' | readonly string[] | ((origin: string, host: string) => boolean);

export interface UpgradeRequest {
  method?: string | undefined;
  httpVersion: string;
  /** node's IncomingMessage has these parsed already. */
  httpVersionMajor?: number;
  httpVersionMinor?: number;
  headers: IncomingHttpHeaders;
}

export type HandshakeVerdict =
  | { ok: true; key: string; offeredProtocols: string[] }
  | { ok: false; status: number; message: string; headers?: Record<string, string> };

/** §4.2.1: what makes a request a valid WebSocket opening handshake, in the RFC's order. */
export function checkUpgradeRequest(req: UpgradeRequest): HandshakeVerdict {
  if (req.method !== 'GET')
    return {
      ok: false,
      status: 405,
      message: 'the opening handshake must be a GET request',
      headers: { Allow: 'GET' },
    };
  const [major = 0, minor = 0] =
    req.httpVersionMajor !== undefined && req.httpVersionMinor !== undefined
      ? [req.httpVersionMajor, req.httpVersionMinor]
      : req.httpVersion.split('.').map(Number);
  if (major < 1 || (major === 1 && minor < 1))
    return { ok: false, status: 400, message: 'HTTP/1.1 or later is required' };
  const h = req.headers;
  // §4.1 item 4 / §4.2.1 item 2: the request MUST carry Host (the same-origin policy compares against it, too).
  if (typeof h.host !== 'string' || h.host.trim() === '')
    return { ok: false, status: 400, message: 'missing Host header' };
  if (!listHasToken(h.upgrade, 'websocket')) return { ok: false, status: 400, message: 'missing "Upgrade: websocket"' };
  if (!listHasToken(h.connection, 'upgrade'))
    return { ok: false, status: 400, message: 'missing "Connection: Upgrade"' };
  // §4.4: an unknown version gets 426 and the versions we speak, so the client can retry.
  if (h['sec-websocket-version'] !== '13') {
    return {
      ok: false,
      status: 426,
      message: 'unsupported Sec-WebSocket-Version; this server speaks 13',
      headers: { 'Sec-WebSocket-Version': '13' },
    };
  }
  const key = h['sec-websocket-key'];
  if (!isValidKey(key)) return { ok: false, status: 400, message: 'missing or invalid Sec-WebSocket-Key' };
  const offeredProtocols = splitList(h['sec-websocket-protocol']);
  if (!offeredProtocols.every(isToken)) return { ok: false, status: 400, message: 'invalid Sec-WebSocket-Protocol' };
  return { ok: true, key, offeredProtocols };
}

/**
 * The origin policy, secure by default: a browser's request is accepted only from the page's own origin unless an
 * allowlist or '*' says otherwise. Requests without Origin come from non-browser clients, which any script could
 * forge anyway, so they pass.
 */
export function isOriginAllowed(policy: OriginPolicy, origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (policy === '*') return true;
  if (typeof policy === 'function') return policy(origin, host ?? '');
  if (policy === 'same-origin') {
    if (!host) return false;
    try {
      const o = new URL(origin);
      if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
      // Parsing Host under the origin's scheme drops a default port (":443" on https) the same way Origin has it.
      return new URL(`${o.protocol}//${host}`).host === o.host;
    } catch {
      return false;
    }
  }
  const normalized = normalizeOrigin(origin);
  return normalized !== null && policy.some((allowed) => normalizeOrigin(allowed) === normalized);
}

/** The serialized origin (scheme://host[:port]) of a URL, or null when it has none. */
export function normalizeOrigin(origin: string): string | null {
  try {
    const o = new URL(origin).origin;
    return o === 'null' ? null : o;
  } catch {
    return null;
  }
}

/** The first of the server's protocols, in its order of preference, that the client offered. */
export function selectProtocol(supported: readonly string[], offered: readonly string[]): string {
  return supported.find((p) => offered.includes(p)) ?? '';
}

export function acceptResponse(key: string, protocol: string, extensions: string): string {
  let out = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (protocol) out += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions) out += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return `${out}\r\n`;
}
