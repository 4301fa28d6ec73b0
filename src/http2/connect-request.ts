// Bootstrapping a WebSocket with HTTP/2's extended CONNECT (RFC 8441 §4–5), both ends: the server's checks of a
// request and its 200 answer, the client's request headers and its checks of that answer. Pure: no streams.
import type { IncomingHttpHeaders, IncomingHttpStatusHeader, OutgoingHttpHeaders } from 'node:http2';
import { HandshakeError } from '../errors.js';
import { checkSelectedProtocol } from '../handshake/client-handshake.js';
import { isToken, splitList } from '../handshake/tokens.js';

export type ConnectVerdict =
  | { ok: true; authority: string; offeredProtocols: string[] }
  | { ok: false; status: number; message: string; headers?: Record<string, string> };

/** RFC 8441 §4: the one request form this module serves (the :protocol token is compared case-insensitively). */
export function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  const protocol = headers[':protocol'];
  return headers[':method'] === 'CONNECT' && typeof protocol === 'string' && protocol.toLowerCase() === 'websocket';
}

/**
 * RFC 8441 §4–5: what makes an HTTP/2 request a valid WebSocket opening handshake. There is no Sec-WebSocket-Key and
 * no Accept (§5: superseded by :protocol); Sec-WebSocket-Version, -Protocol and -Extensions mean what RFC 6455 says.
 */
export function checkConnectRequest(headers: IncomingHttpHeaders): ConnectVerdict {
  if (headers[':method'] !== 'CONNECT')
    return {
      ok: false,
      status: 405,
      message: 'over HTTP/2 a WebSocket opens with an extended CONNECT (:protocol websocket, RFC 8441)',
      headers: { allow: 'CONNECT' },
    };
  const protocol = headers[':protocol'];
  if (typeof protocol !== 'string')
    return { ok: false, status: 400, message: 'a CONNECT without :protocol is not a WebSocket (RFC 8441 §4)' };
  // §4: a :protocol the server does not support "SHOULD" get 501.
  if (protocol.toLowerCase() !== 'websocket')
    return { ok: false, status: 501, message: `:protocol ${JSON.stringify(protocol)} is not supported` };
  // §4: an extended CONNECT carries :scheme and :path like any request; the origin policy needs :authority.
  const authority = headers[':authority'];
  if (typeof authority !== 'string' || authority === '')
    return { ok: false, status: 400, message: 'missing :authority' };
  if (typeof headers[':scheme'] !== 'string' || typeof headers[':path'] !== 'string')
    return { ok: false, status: 400, message: 'an extended CONNECT needs :scheme and :path (RFC 8441 §4)' };
  // RFC 6455 §4.4 answers an unknown version with 426, but a 426 must carry Upgrade, which HTTP/2 forbids
  // (RFC 9113 §8.2.2): 400 with the version we speak says the same.
  if (headers['sec-websocket-version'] !== '13')
    return {
      ok: false,
      status: 400,
      message: 'unsupported Sec-WebSocket-Version; this server speaks 13',
      headers: { 'sec-websocket-version': '13' },
    };
  const offeredProtocols = splitList(headers['sec-websocket-protocol']);
  if (!offeredProtocols.every(isToken)) return { ok: false, status: 400, message: 'invalid Sec-WebSocket-Protocol' };
  return { ok: true, authority, offeredProtocols };
}

/** §5: a 200 opens the WebSocket; the stream then carries RFC 6455 frames. */
export function connectResponse(protocol: string, extensions: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':status': 200 };
  if (protocol) headers['sec-websocket-protocol'] = protocol;
  if (extensions) headers['sec-websocket-extensions'] = extensions;
  return headers;
}

/** The client's extended CONNECT for `url`; `extra` holds the caller's own headers and the WebSocket ones. */
export function connectRequest(url: URL, extra: Readonly<Record<string, string>>): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': url.protocol === 'wss:' ? 'https' : 'http',
    ':path': `${url.pathname}${url.search}`,
    ':authority': url.host,
    'sec-websocket-version': '13',
  };
  // HTTP/2 field names are lower case (RFC 9113 §8.2.1); Host becomes :authority (§8.3.1).
  for (const [name, value] of Object.entries(extra)) {
    const lower = name.toLowerCase();
    headers[lower === 'host' ? ':authority' : lower] = value;
  }
  return headers;
}

/** Checks a response to our extended CONNECT; returns the selected subprotocol ('' for none) or throws HandshakeError. */
export function checkConnectResponse(
  headers: IncomingHttpHeaders & IncomingHttpStatusHeader,
  offeredProtocols: readonly string[],
): string {
  const status = Number(headers[':status']);
  if (status !== 200)
    throw new HandshakeError(
      'ERR_HANDSHAKE_REFUSED',
      `server answered ${status} instead of 200 to the extended CONNECT`,
      {
        status,
        headers,
      },
    );
  return checkSelectedProtocol(headers, offeredProtocols, 200);
}
