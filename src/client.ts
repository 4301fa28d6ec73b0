// connect(): dials ws:// or wss://, performs the opening handshake (RFC 6455 §4.1, or RFC 8441 on an HTTP/2 session)
// and returns an open Connection.
import { type IncomingMessage, request as httpRequest, validateHeaderName, validateHeaderValue } from 'node:http';
import { type ClientHttp2Session, constants } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { type Clock, resolveClock } from './clock.js';
import { Connection } from './connection/connection.js';
import { Heartbeat, type HeartbeatOptions } from './connection/heartbeat.js';
import { LIMIT_KEYS, resolveLimits } from './connection/limits.js';
import type { ConnectionLimits } from './connection/types.js';
import { HandshakeError } from './errors.js';
import {
  acceptServerResponse,
  type CompressionOption,
  clientOffer,
  PerMessageDeflate,
  resolveCompression,
} from './extensions/permessage-deflate.js';
import { generateKey } from './handshake/accept-key.js';
import { checkUpgradeResponse, upgradeHeaders } from './handshake/client-handshake.js';
import { validateProtocols } from './handshake/tokens.js';
import { isClientSession, openStream } from './http2/client-stream.js';
import { checkConnectResponse } from './http2/connect-request.js';
import { streamTransport } from './http2/stream-transport.js';
import { DEFAULT_HANDSHAKE_TIMEOUT, EMPTY } from './protocol/constants.js';
import { Stats } from './stats.js';
import { checkKeys, describe, intOption, optionsObject } from './validate.js';

/**
 * The options of {@link connect}. Every option is checked at once: an unknown key (such as ws's `maxPayload`) throws a
 * TypeError that names what to use instead.
 */
export interface ConnectOptions extends Partial<ConnectionLimits> {
  /** Subprotocols to offer (Sec-WebSocket-Protocol), most preferred first; the server's pick is `conn.protocol`. */
  protocols?: readonly string[];
  /** Extra request headers (e.g. Authorization, Cookie). The WebSocket handshake headers cannot be overridden. */
  headers?: Record<string, string>;
  /** Sent as the Origin header, as a browser would. */
  origin?: string;
  /** Offer permessage-deflate (RFC 7692). Off by default (`false`), unlike ws's client. */
  compression?: CompressionOption;
  /** Time allowed from dialling to the server's 101, in ms (default 10 000); then ERR_HANDSHAKE_TIMEOUT. */
  handshakeTimeout?: number;
  /** Aborts the handshake (rejecting with ERR_ABORTED); it has no effect once the connection is open. */
  signal?: AbortSignal;
  /** Passed to tls.connect for wss:// (ca, cert, key, rejectUnauthorized, servername, ...). */
  tls?: TlsOptions;
  /** Off by default on the client; `true` or options to ping an idle server and drop it when silent. */
  heartbeat?: HeartbeatOptions | boolean;
  /**
   * Opens the WebSocket as a stream of an HTTP/2 session (RFC 8441): `true` shares one session per origin between
   * WebSockets, or pass your own from http2.connect(). Falls back to HTTP/1.1 when the server does not advertise
   * SETTINGS_ENABLE_CONNECT_PROTOCOL (or does not speak HTTP/2). Off by default.
   */
  http2?: boolean | ClientHttp2Session;
  /** The time source of the handshake timeout, the close timeout and the heartbeat. Default: systemClock. */
  clock?: Clock;
  /** Where the connection counts its messages and bytes; pass one Stats to many connect() calls to add them up. */
  stats?: Stats;
}

const CONNECT_KEYS = new Set<string>([
  ...LIMIT_KEYS,
  'protocols',
  'headers',
  'origin',
  'compression',
  'handshakeTimeout',
  'signal',
  'tls',
  'heartbeat',
  'http2',
  'clock',
  'stats',
]);

const TLS_HINT = 'put TLS options under tls: { ca, cert, key, rejectUnauthorized, servername, ... }';
/** What ws users pass to `new WebSocket(url, options)`, and what does it here. */
const WS_CLIENT_HINTS: Readonly<Record<string, string>> = {
  maxPayload: 'use maxMessageSize (default 16 MiB; ws defaults to 100 MiB)',
  perMessageDeflate: "use compression: 'dedicated', 'shared' or { ... } (off by default; ws offers it by default)",
  followRedirects: 'redirects are not followed: a WebSocket handshake answers 101 or fails',
  maxRedirects: 'redirects are not followed: a WebSocket handshake answers 101 or fails',
  protocolVersion: 'only version 13 exists (RFC 6455)',
  skipUTF8Validation: 'text messages are always validated (RFC 6455 §8.1)',
  autoPong: 'pings are always answered (RFC 6455 §5.5.2)',
  generateMask: 'masks are always random (RFC 6455 §5.3)',
  finishRequest: 'pass headers, origin and tls instead',
  agent: 'not supported: each connection dials its own socket',
  createConnection: 'not supported: each connection dials its own socket',
  allowSynchronousEvents: 'not needed: events are emitted as messages are parsed',
  ca: TLS_HINT,
  cert: TLS_HINT,
  key: TLS_HINT,
  rejectUnauthorized: TLS_HINT,
  servername: TLS_HINT,
};

/** How much of a refusal's body a HandshakeError keeps. */
const BODY_START = 1024;

const RESERVED_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/**
 * Opens a WebSocket connection. Misuse (a bad URL or option) throws at once; a failed handshake rejects with a
 * HandshakeError whose message says what was wrong and whose `status` is the HTTP status the server answered.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Promise<Connection> {
  const target = parseUrl(url);
  options = optionsObject<ConnectOptions>('connect options', options);
  checkKeys('connect', options, CONNECT_KEYS, WS_CLIENT_HINTS);
  const limits = resolveLimits(options);
  const protocols = options.protocols ?? [];
  validateProtocols(protocols);
  const compression = resolveCompression(options.compression ?? false);
  const timeout = intOption('handshakeTimeout', options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT);
  const clock = resolveClock(options.clock);
  const heartbeat = options.heartbeat
    ? new Heartbeat(options.heartbeat === true ? {} : options.heartbeat, clock)
    : null;
  if (options.stats !== undefined && !(options.stats instanceof Stats)) throw new TypeError('stats must be a Stats');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError('signal must be an AbortSignal');
  }
  if (options.origin !== undefined && typeof options.origin !== 'string')
    throw new TypeError('origin must be a string');
  if (options.origin) checkHeader('Origin', options.origin, 'origin');
  optionsObject('tls', options.tls);
  for (const [name, value] of Object.entries(optionsObject<Record<string, string>>('headers', options.headers))) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new TypeError(`header ${name} is set by the handshake itself`);
    if (typeof value !== 'string') throw new TypeError(`header ${name} must be a string, got ${describe(value)}`);
    checkHeader(name, value, `header ${JSON.stringify(name)}`);
  }
  const http2 = options.http2 ?? false;
  if (typeof http2 !== 'boolean' && !isClientSession(http2))
    throw new TypeError(`http2 must be true, false or a session from http2.connect(), got ${describe(http2)}`);
  if (options.signal?.aborted) return Promise.reject(new HandshakeError('ERR_ABORTED', 'connect aborted'));

  /** The handshake succeeded: negotiate the extension and open the connection on `transport`. */
  const open = (transport: Duplex, head: Buffer, protocol: string, extensions: string): Connection => {
    let deflate: PerMessageDeflate | null = null;
    if (extensions) {
      if (!compression)
        throw new HandshakeError(
          'ERR_HANDSHAKE_INVALID',
          'invalid handshake response: server enabled an extension that was not offered',
          { status: 101 },
        );
      deflate = new PerMessageDeflate(acceptServerResponse(extensions, compression), 'client', compression);
    }
    const conn = new Connection(
      transport,
      { limits, role: 'client', protocol, extensions, deflate, clock },
      head,
      options.stats ?? new Stats(),
    );
    if (heartbeat) {
      heartbeat.add(conn);
      conn.closed.then(() => heartbeat.stop());
    }
    return conn;
  };
  const own = {
    ...options.headers,
    ...(options.origin ? { Origin: options.origin } : {}),
  };
  const offer = compression ? clientOffer(compression) : '';
  const viaHttp1 = (deadline: number): Promise<Connection> =>
    dialHttp1(
      { target, own, offer, protocols, tls: options.tls, timeout: deadline, clock, signal: options.signal },
      open,
    );
  if (http2 === false) return viaHttp1(timeout);

  const started = clock.now();
  const wsHeaders: Record<string, string> = { ...own };
  if (protocols.length > 0) wsHeaders['sec-websocket-protocol'] = protocols.join(', ');
  if (offer) wsHeaders['sec-websocket-extensions'] = offer;
  return openStream({
    url: target,
    session: http2 === true ? null : http2,
    tls: options.tls,
    headers: wsHeaders,
    timeout,
    clock,
    signal: options.signal,
  }).then((opened) => {
    // The server does not speak RFC 8441: the same handshake over HTTP/1.1, within what is left of the timeout.
    if (!opened) return viaHttp1(Math.max(1, timeout - Math.ceil(clock.now() - started)));
    try {
      const protocol = checkConnectResponse(opened.headers, protocols);
      const extensions = opened.headers['sec-websocket-extensions'] ?? '';
      return open(streamTransport(opened.stream), EMPTY, protocol, extensions);
    } catch (err) {
      opened.stream.close(constants.NGHTTP2_CANCEL);
      // The checks shared with HTTP/1.1 name the 101 they would have seen; over HTTP/2 it was a 200.
      if (err instanceof HandshakeError && err.status === 101) {
        throw new HandshakeError(err.code, err.message, { status: 200, headers: opened.headers });
      }
      throw err;
    }
  });
}

interface Http1Dial {
  target: URL;
  /** The caller's headers and Origin. */
  own: Record<string, string>;
  /** The Sec-WebSocket-Extensions offer, '' for none. */
  offer: string;
  protocols: readonly string[];
  tls: TlsOptions | undefined;
  timeout: number;
  clock: Clock;
  signal: AbortSignal | undefined;
}

/** RFC 6455 §4.1 over HTTP/1.1: an Upgrade request on a connection of its own. */
function dialHttp1(
  dial: Http1Dial,
  open: (transport: Duplex, head: Buffer, protocol: string, extensions: string) => Connection,
): Promise<Connection> {
  const { target, own, offer, protocols, tls, timeout, clock, signal } = dial;
  const key = generateKey();
  const headers = { ...own, ...upgradeHeaders(key, protocols, offer) };
  const secure = target.protocol === 'wss:';
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  const requestOptions = {
    method: 'GET',
    hostname,
    port: target.port || (secure ? 443 : 80),
    path: `${target.pathname}${target.search}`,
    headers,
    agent: false as const,
    // RFC 6066 §3: SNI carries host names only, never an IP literal (node warns, and will ignore it).
    ...(secure ? { ...tls, servername: tls?.servername ?? (isIP(hostname) ? '' : hostname) } : {}),
  };

  // Made before the promise: node checks the request (and, for wss://, the TLS options) here and throws at once, which
  // is misuse to throw to the caller, not a handshake failure with a timer still armed.
  const req = (secure ? httpsRequest : httpRequest)(requestOptions);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: HandshakeError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new HandshakeError('ERR_ABORTED', 'connect aborted'));
    const timer = clock.setTimeout(
      () => fail(new HandshakeError('ERR_HANDSHAKE_TIMEOUT', `handshake timed out after ${timeout} ms`)),
      timeout,
    );
    const cleanup = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    // Set once the server answered without upgrading: a reset while its body arrives still reports that answer.
    let answered = false;
    req.on('error', (err) => {
      if (answered) return;
      fail(new HandshakeError('ERR_CONNECT_FAILED', `connection failed: ${err.message}`, { cause: err }));
    });
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      // node reports a 101 that lacks "Upgrade: websocket" or "Connection: Upgrade" as a plain response: name the
      // missing header (§4.1) instead of the puzzling "answered 101 instead of 101".
      if (res.statusCode === 101) {
        res.resume();
        try {
          checkUpgradeResponse(res.headers, key, protocols);
        } catch (err) {
          if (err instanceof HandshakeError) return fail(err);
        }
      }
      // The start of the body usually says why (a refused origin, a missing token): kept for the caller.
      readBodyStart(res).then((body) =>
        fail(
          new HandshakeError(
            'ERR_HANDSHAKE_REFUSED',
            `server answered ${res.statusCode} ${res.statusMessage ?? ''} instead of 101`.trim(),
            { status: res.statusCode ?? 0, headers: res.headers, body },
          ),
        ),
      );
    });
    req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      let conn: Connection;
      try {
        // RFC 6455 §4.2.2 answers "HTTP/1.1 101"; HTTP/1.0 defines no 1xx status (RFC 9110 §15.2).
        if (res.httpVersion !== '1.1') {
          throw new HandshakeError(
            'ERR_HANDSHAKE_INVALID',
            `server answered HTTP/${res.httpVersion} 101, not HTTP/1.1`,
            {
              status: 101,
              headers: res.headers,
            },
          );
        }
        const protocol = checkUpgradeResponse(res.headers, key, protocols);
        conn = open(socket, head, protocol, res.headers['sec-websocket-extensions'] ?? '');
      } catch (err) {
        socket.destroy();
        fail(
          err instanceof HandshakeError
            ? err
            : new HandshakeError('ERR_HANDSHAKE_INVALID', String(err), { status: 101, cause: err }),
        );
        return;
      }
      settled = true;
      cleanup();
      (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      resolve(conn);
    });
    req.end();
  });
}

/**
 * What node would refuse when it builds the request (a CR or LF in a value, a name that is not a token, an HTTP/2
 * pseudo-header such as :path): misuse, thrown at once for both transports, not a failed connection later.
 */
function checkHeader(name: string, value: string, what: string): void {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  } catch (err) {
    throw new TypeError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

function parseUrl(url: string | URL): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new TypeError(`invalid WebSocket URL: ${String(url)}`);
  }
  if (target.protocol === 'http:') target.protocol = 'ws:';
  else if (target.protocol === 'https:') target.protocol = 'wss:';
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new TypeError(`WebSocket URLs use ws: or wss:, got ${target.protocol}`);
  }
  // RFC 6455 §3: fragment identifiers are meaningless in WebSocket URIs and must not be used.
  if (target.hash) throw new TypeError('a WebSocket URL cannot have a #fragment');
  return target;
}

/** The refusal body's first bytes (at most 1 KiB, as text): read until then, the end, or the connection's end. */
function readBodyStart(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      res.off('data', onData);
      res.resume();
      resolve(Buffer.concat(parts).subarray(0, BODY_START).toString('utf8'));
    };
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      size += chunk.length;
      if (size >= BODY_START) done();
    };
    res.on('data', onData);
    res.once('end', done);
    res.once('close', done);
    res.once('error', done);
  });
}
