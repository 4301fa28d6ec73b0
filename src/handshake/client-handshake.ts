// The client's side of the opening handshake (RFC 6455 §4.1): the request headers, and the checks §4.1 demands of the
// server's 101 answer. Pure: no sockets.
import type { IncomingHttpHeaders } from 'node:http';
import { HandshakeError } from '../errors.js';
import { acceptKey } from './accept-key.js';
import { listHasToken, splitList } from './tokens.js';

export function upgradeHeaders(key: string, protocols: readonly string[], extensions: string): Record<string, string> {
  const headers: Record<string, string> = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
  };
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  if (extensions) headers['Sec-WebSocket-Extensions'] = extensions;
  return headers;
}

/** Returns the selected subprotocol ('' for none); throws HandshakeError naming the first thing that is wrong. */
export function checkUpgradeResponse(
  headers: IncomingHttpHeaders,
  key: string,
  offeredProtocols: readonly string[],
): string {
  const fail = (message: string): never => invalidResponse(message, 101);
  if (!listHasToken(headers.upgrade, 'websocket')) fail('missing "Upgrade: websocket"');
  if (!listHasToken(headers.connection, 'upgrade')) fail('missing "Connection: Upgrade"');
  const accept = headers['sec-websocket-accept'];
  if (accept !== acceptKey(key)) fail(`Sec-WebSocket-Accept is ${accept === undefined ? 'missing' : 'wrong'}`);
  return checkSelectedProtocol(headers, offeredProtocols, 101);
}

/**
 * §4.1: the server selects at most one subprotocol, one the client offered; returns it ('' for none). Shared with the
 * HTTP/2 handshake (RFC 8441 §5), whose success `status` is 200.
 */
export function checkSelectedProtocol(
  headers: IncomingHttpHeaders,
  offeredProtocols: readonly string[],
  status: number,
): string {
  const fail = (message: string): never => invalidResponse(message, status);
  const chosen = splitList(headers['sec-websocket-protocol']);
  if (chosen.length > 1) fail('server selected more than one subprotocol');
  const protocol = chosen[0] ?? '';
  if (protocol && !offeredProtocols.includes(protocol))
    fail(`server selected subprotocol "${protocol}", which was not offered`);
  return protocol;
}

function invalidResponse(message: string, status: number): never {
  throw new HandshakeError('ERR_HANDSHAKE_INVALID', `invalid handshake response: ${message}`, { status });
}
