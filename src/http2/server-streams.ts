// The server's HTTP/2 side (RFC 8441): advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on a node:http2 server, finds the
// extended CONNECT streams among its requests, and answers one: a 200 that opens the WebSocket, or an error status.
import type { IncomingHttpHeaders } from 'node:http2';
import {
  constants,
  type Http2SecureServer,
  type Http2Server,
  Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Clock } from '../clock.js';
import type { PendingHandshake } from '../handshake/pending-handshake.js';
import { EMPTY } from '../protocol/constants.js';
import { checkConnectRequest, connectResponse, isWebSocketConnect } from './connect-request.js';
import { streamTransport } from './stream-transport.js';

/** A node:http2 server, cleartext (h2c, `http2.createServer`) or TLS (`http2.createSecureServer`). */
export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** Receives each extended CONNECT stream once; `req` is node's compatibility request when the server made one. */
export type StreamRoute = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  req: Http2ServerRequest | undefined,
  rawHeaders: string[],
) => void;

/** How long a refused stream may stay open for its response to be read before it is reset. */
const REFUSE_LINGER = 2_000;

/** node's http2 servers (h2 and h2c) have updateSettings(); http and https servers do not. */
export function isHttp2Server(server: object): server is AnyHttp2Server {
  return typeof (server as Partial<AnyHttp2Server>).updateSettings === 'function';
}

/** Streams already handed to a route: the 'stream' and 'connect' events both see each one. */
const taken = new WeakSet<ServerHttp2Stream>();

/**
 * Sends every extended CONNECT stream of `server` to `route`. With a request handler (node's compatibility API)
 * node turns a CONNECT into a 'connect' event and answers 405 when nobody listens, so both events are watched; other
 * CONNECTs are left to the app's own 'connect' listeners, or get node's usual answer when there are none.
 */
export function acceptStreams(server: AnyHttp2Server, route: StreamRoute): void {
  // RFC 8441 §3: a client sends :protocol only to a server whose SETTINGS allow it; this reaches every new session.
  server.updateSettings({ enableConnectProtocol: true });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
    if (taken.has(stream) || !isWebSocketConnect(headers)) return;
    taken.add(stream);
    route(stream, headers, undefined, raw);
  });
  server.on('connect', (req: unknown, second: unknown) => {
    const alone = server.listenerCount('connect') === 1;
    if (!(req instanceof Http2ServerRequest)) {
      // An HTTP/1.1 CONNECT on an allowHTTP1 server: node destroys its socket when nobody listens.
      if (alone) (second as { destroy(): void }).destroy();
      return;
    }
    if (isWebSocketConnect(req.headers)) {
      if (taken.has(req.stream)) return;
      taken.add(req.stream);
      route(req.stream, req.headers, req, req.rawHeaders);
    } else if (alone) {
      // What node answers a CONNECT nobody listens for; an extended CONNECT for another protocol gets RFC 8441 §4's 501.
      const res = second as Http2ServerResponse;
      res.statusCode = req.headers[':protocol'] === undefined ? 405 : 501;
      res.end();
    }
  });
}

function ignoreError(): void {
  // A stream reset during the handshake is destroyed by node; its 'error' needs a listener, not an answer.
}

/** One extended CONNECT stream as a handshake for the server's common checks. */
export function streamHandshake(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  req: Http2ServerRequest | undefined,
  rawHeaders: string[],
  clock: Clock,
): PendingHandshake {
  stream.on('error', ignoreError);
  const verdict = checkConnectRequest(headers);
  const extensions = headers['sec-websocket-extensions'];
  return {
    req: req ?? new Http2ServerRequest(stream, headers, {}, rawHeaders),
    verdict: verdict.ok ? { ok: true, host: verdict.authority, offeredProtocols: verdict.offeredProtocols } : verdict,
    origin: headers.origin,
    extensionOffer: Array.isArray(extensions) ? extensions.join(', ') : extensions,
    get gone() {
      return stream.destroyed || stream.closed || stream.headersSent;
    },
    refuse: (status, message, extra) => refuseStream(stream, status, message, extra, clock),
    accept: (protocol, negotiated) => {
      stream.respond(connectResponse(protocol, negotiated));
      return { transport: streamTransport(stream), head: EMPTY };
    },
  };
}

/**
 * §5: a refused WebSocket is an ordinary HTTP/2 response with an error status (no Sec-WebSocket-Accept exists to
 * withhold). RFC 9113 §8.1 then lets the server reset the request with NO_ERROR once the response is complete, so the
 * client stops sending on it; a peer that never takes the response is reset after REFUSE_LINGER.
 */
export function refuseStream(
  stream: ServerHttp2Stream,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  clock: Clock,
): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const fields: Record<string, string | number> = { ':status': status, 'content-type': 'text/plain; charset=utf-8' };
  for (const [name, value] of Object.entries(headers)) fields[name.toLowerCase()] = value;
  stream.respond(fields);
  stream.end(`${message}\n`);
  stream.close(constants.NGHTTP2_NO_ERROR);
  const timer = clock.setTimeout(() => stream.destroy(), REFUSE_LINGER);
  stream.once('close', () => clock.clearTimeout(timer));
}
