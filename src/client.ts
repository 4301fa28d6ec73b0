// connect(): dials ws:// or wss://, performs the opening handshake (RFC 6455 §4.1) and returns an open Connection.
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
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
import { DEFAULT_HANDSHAKE_TIMEOUT } from './protocol/constants.js';
import { Stats } from './stats.js';
import { checkKeys, describe, intOption, optionsObject } from './validate.js';

export interface ConnectOptions extends Partial<ConnectionLimits> {
  protocols?: readonly string[];
  /** Extra request headers (e.g. Authorization, Cookie). The WebSocket handshake headers cannot be overridden. */
  headers?: Record<string, string>;
  /** Sent as the Origin header, as a browser would. */
  origin?: string;
  compression?: CompressionOption;
  handshakeTimeout?: number;
  signal?: AbortSignal;
  /** Passed to tls.connect for wss:// (ca, cert, key, rejectUnauthorized, servername, ...). */
  tls?: TlsOptions;
  /** Off by default on the client; `true` or options to ping an idle server and drop it when silent. */
  heartbeat?: HeartbeatOptions | boolean;
  clock?: Clock;
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
  optionsObject('tls', options.tls);
  for (const [name, value] of Object.entries(optionsObject<Record<string, string>>('headers', options.headers))) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new TypeError(`header ${name} is set by the handshake itself`);
    if (typeof value !== 'string') throw new TypeError(`header ${name} must be a string, got ${describe(value)}`);
  }
  if (options.signal?.aborted) return Promise.reject(new HandshakeError('connect aborted', 0, 'ERR_ABORTED'));

  const key = generateKey();
  const headers = {
    ...options.headers,
    ...(options.origin ? { Origin: options.origin } : {}),
    ...upgradeHeaders(key, protocols, compression ? clientOffer(compression) : ''),
  };
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
    ...(secure ? { ...options.tls, servername: options.tls?.servername ?? (isIP(hostname) ? '' : hostname) } : {}),
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest;
    const fail = (err: HandshakeError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new HandshakeError('connect aborted', 0, 'ERR_ABORTED'));
    const timer = clock.setTimeout(
      () => fail(new HandshakeError(`handshake timed out after ${timeout} ms`, 0, 'ERR_HANDSHAKE_TIMEOUT')),
      timeout,
    );
    const cleanup = (): void => {
      clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    req = (secure ? httpsRequest : httpRequest)(requestOptions);
    req.on('error', (err) =>
      fail(new HandshakeError(`connection failed: ${err.message}`, 0, 'ERR_HANDSHAKE', { cause: err })),
    );
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      // node reports a 101 that lacks "Upgrade: websocket" or "Connection: Upgrade" as a plain response: name the
      // missing header (§4.1) instead of the puzzling "answered 101 instead of 101".
      if (res.statusCode === 101) {
        try {
          checkUpgradeResponse(res.headers, key, protocols);
        } catch (err) {
          if (err instanceof HandshakeError) return fail(err);
        }
      }
      fail(
        new HandshakeError(
          `server answered ${res.statusCode} ${res.statusMessage ?? ''} instead of 101`.trim(),
          res.statusCode ?? 0,
        ),
      );
    });
    req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      let protocol: string;
      let deflate: PerMessageDeflate | null = null;
      const extensions = res.headers['sec-websocket-extensions'] ?? '';
      try {
        protocol = checkUpgradeResponse(res.headers, key, protocols);
        if (extensions) {
          if (!compression)
            throw new HandshakeError(
              'invalid handshake response: server enabled an extension that was not offered',
              101,
            );
          deflate = new PerMessageDeflate(acceptServerResponse(extensions, compression), 'client', compression);
        }
      } catch (err) {
        socket.destroy();
        fail(err instanceof HandshakeError ? err : new HandshakeError(String(err), 101));
        return;
      }
      settled = true;
      cleanup();
      (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      const conn = new Connection(
        socket,
        { limits, role: 'client', protocol, extensions, deflate, clock },
        head,
        options.stats ?? new Stats(),
      );
      if (heartbeat) {
        heartbeat.add(conn);
        conn.closed.then(() => heartbeat.stop());
      }
      resolve(conn);
    });
    req.end();
  });
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
