// WebSocketServer: accepts upgrades (RFC 6455 §4.2) from node:http/https servers and extended CONNECT streams
// (RFC 8441) from node:http2 servers, tracks its connections, and shuts down gracefully with 1001 (§7.4.1 "going away").
import { EventEmitter } from 'node:events';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Clock, resolveClock, systemClock } from './clock.js';
import { Connection } from './connection/connection.js';
import { Heartbeat, type HeartbeatOptions } from './connection/heartbeat.js';
import { LIMIT_KEYS, resolveLimits } from './connection/limits.js';
import { type ConnectionLimits, ReadyState } from './connection/types.js';
import { warnOf } from './errors.js';
import {
  type CompressionOption,
  negotiateServer,
  PerMessageDeflate,
  resolveCompression,
} from './extensions/permessage-deflate.js';
import {
  acceptResponse,
  checkUpgradeRequest,
  isOriginAllowed,
  normalizeOrigin,
  type OriginPolicy,
  selectProtocol,
} from './handshake/server-handshake.js';
import type { PendingHandshake, WebSocketRequest } from './handshake/pending-handshake.js';
import { validateProtocols } from './handshake/tokens.js';
import {
  type AnyHttp2Server,
  acceptStreams,
  isHttp2Server,
  refuseStream,
  streamHandshake,
} from './http2/server-streams.js';
import { CloseCode, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT } from './protocol/constants.js';
import { Stats } from './stats.js';
import { checkKeys, describe, intOption, optionalFunction, optionsObject } from './validate.js';

/**
 * The options of `new WebSocketServer(options)`, all optional and checked at construction: an unknown key (such as
 * ws's `maxPayload` or `verifyClient`) throws a TypeError that names what to use instead.
 */
export interface ServerOptions extends Partial<ConnectionLimits> {
  /** Who may connect from a browser. Default 'same-origin'; '*' must be said explicitly. */
  origins?: OriginPolicy;
  /**
   * Subprotocols this server speaks, most preferred first: the first one the client offers is chosen (none when the
   * client offers none of them; the connection still opens, with `conn.protocol` '').
   */
  protocols?: readonly string[];
  /** permessage-deflate (RFC 7692): off by default (`false`); `'shared'`, `'dedicated'` or parameters to offer it. */
  compression?: CompressionOption;
  /** Ping idle peers and terminate the silent ones. On by default; `false` turns it off. */
  heartbeat?: HeartbeatOptions | boolean;
  /** Time allowed for a client to send its request headers, on servers created by listen(). */
  handshakeTimeout?: number;
  /** Largest request header block, on servers created by listen() (node's default is 16 KiB). */
  maxHeaderSize?: number;
  /** How long close() waits for peers to answer 1001 before it terminates them. */
  shutdownTimeout?: number;
  /** Last word on a handshake that passed every check: return false (403) or an HTTP status to refuse it. */
  authorize?: (req: WebSocketRequest) => boolean | number | Promise<boolean | number>;
  /** The time source of every timer (handshake, close and shutdown timeouts, heartbeat). Default: systemClock. */
  clock?: Clock;
}

/** The events of a {@link WebSocketServer}, with their listeners' arguments. */
export interface ServerEvents {
  /**
   * A handshake succeeded: the open connection and the request that asked for it. `req` is an Http2ServerRequest for
   * a WebSocket over HTTP/2 (`req.httpVersionMajor === 2`). A listener that throws or rejects closes that
   * connection with 1011.
   */
  connection: [Connection, WebSocketRequest];
  /** A refused handshake: the status sent and why. */
  rejected: [
    {
      /** The HTTP status answered: 400 for a malformed request, 403 for a refused origin, 503 while closing... */
      status: number;
      /** Why, as also written in the response body. */
      message: string;
      /** The refused request. */
      req: WebSocketRequest;
    },
  ];
}

const REFUSE_LINGER = 2_000;

const SERVER_KEYS = new Set<string>([
  ...LIMIT_KEYS,
  'origins',
  'protocols',
  'compression',
  'heartbeat',
  'handshakeTimeout',
  'maxHeaderSize',
  'shutdownTimeout',
  'authorize',
  'clock',
]);

/** What ws users pass, and what does it here: a foreign option must not be silently ignored. */
const WS_SERVER_HINTS: Readonly<Record<string, string>> = {
  maxPayload: 'use maxMessageSize (default 16 MiB; ws defaults to 100 MiB)',
  perMessageDeflate: "use compression: 'dedicated', 'shared' or { ...RFC 7692 parameters } (default off)",
  verifyClient: 'use origins (the origin policy) and authorize(req), which returns true, false or an HTTP status',
  handleProtocols: 'use protocols: [...] in your order of preference; the first one the client offers is chosen',
  noServer: 'a WebSocketServer needs no server of its own: call wss.handleUpgrade(req, socket, head)',
  server: 'use wss.attach(httpServer, { path })',
  path: 'use wss.attach(httpServer, { path })',
  port: 'use await wss.listen(port, host), or wss.attach(httpServer)',
  host: 'use await wss.listen(port, host)',
  backlog: 'use your own http server with wss.attach(httpServer)',
  clientTracking: 'open connections are always in wss.clients',
  skipUTF8Validation: 'text messages are always validated (RFC 6455 §8.1)',
  autoPong: 'pings are always answered (RFC 6455 §5.5.2)',
  allowSynchronousEvents: 'not needed: events are emitted as messages are parsed',
  WebSocket: 'not supported: every connection is a switchboard Connection',
};

interface Route {
  server: WebSocketServer;
  path: string | null;
}
const routes = new WeakMap<HttpServer | HttpsServer | AnyHttp2Server, Route[]>();

/**
 * Accepts WebSocket handshakes and hands out a {@link Connection} for each, through the 'connection' event. Serve on
 * a port of its own with listen(), on your http/https/http2 server with attach(), or route upgrades yourself with
 * handleUpgrade(). Heartbeat on, compression off, same-origin only and a 16 MiB message limit by default; close()
 * shuts down gracefully.
 */
export class WebSocketServer extends EventEmitter<ServerEvents> {
  /** Open connections (each leaves the set when it closes). */
  readonly clients = new Set<Connection>();
  /** Counters of this server's connections, messages, bytes and refusals. */
  readonly stats = new Stats();
  readonly #limits: ConnectionLimits;
  readonly #origins: OriginPolicy;
  readonly #protocols: readonly string[];
  readonly #compression: ReturnType<typeof resolveCompression>;
  readonly #heartbeat: Heartbeat | null;
  readonly #clock: Clock;
  readonly #handshakeTimeout: number;
  readonly #shutdownTimeout: number;
  readonly #maxHeaderSize: number;
  readonly #authorize: ServerOptions['authorize'];
  #closing: Promise<void> | null = null;
  /** Handshakes waiting on `authorize`: shutdown refuses them rather than waiting. */
  readonly #authorizing = new Set<PendingHandshake>();
  readonly #forget = (conn: Connection): void => {
    this.clients.delete(conn);
    this.#heartbeat?.delete(conn);
  };
  #ownServer: HttpServer | null = null;
  #attached: Array<HttpServer | HttpsServer | AnyHttp2Server> = [];

  constructor(options: ServerOptions = {}) {
    // A rejected promise from an async 'connection' listener reaches [Symbol.for('nodejs.rejection')].
    super({ captureRejections: true });
    options = optionsObject<ServerOptions>('WebSocketServer options', options);
    checkKeys('WebSocketServer', options, SERVER_KEYS, WS_SERVER_HINTS);
    this.#limits = resolveLimits(options);
    this.#handshakeTimeout = intOption('handshakeTimeout', options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT);
    this.#shutdownTimeout = intOption('shutdownTimeout', options.shutdownTimeout, DEFAULT_CLOSE_TIMEOUT);
    // node's own bounds for an http server's header block.
    this.#maxHeaderSize = intOption('maxHeaderSize', options.maxHeaderSize, 16384, 1024, 1 << 24);
    this.#authorize = optionalFunction('authorize', options.authorize);
    this.#origins = options.origins ?? 'same-origin';
    const origins = this.#origins;
    if (Array.isArray(origins)) {
      if (origins.includes('*')) {
        throw new TypeError("origins: use the string '*' alone to allow every origin, not inside a list");
      }
      // A scheme-less entry would silently refuse every browser: say so at construction.
      const bad = origins.find((o) => normalizeOrigin(o) === null);
      if (bad !== undefined)
        throw new TypeError(`origins: ${JSON.stringify(bad)} is not an origin like https://app.example.com`);
    } else if (typeof origins === 'string' && origins !== 'same-origin' && origins !== '*') {
      throw new TypeError(
        `origins must be 'same-origin', '*', a list of origins or a function, got ${JSON.stringify(origins)}`,
      );
    }
    this.#protocols = options.protocols ?? [];
    validateProtocols(this.#protocols);
    this.#compression = resolveCompression(options.compression ?? false);
    this.#clock = resolveClock(options.clock);
    this.#heartbeat =
      options.heartbeat === false
        ? null
        : new Heartbeat(options.heartbeat === true ? {} : options.heartbeat, this.#clock, () => {
            this.stats.heartbeatKills++;
          });
  }

  /**
   * Serves WebSockets on `path` (every path when omitted) of an existing server; others get 404. On a node:http2
   * server (h2, or h2c) these are extended CONNECT streams, and HTTP/1.1 upgrades too when it has allowHTTP1.
   */
  attach(server: HttpServer | HttpsServer | AnyHttp2Server, options: { path?: string } = {}): this {
    let list = routes.get(server);
    if (!list) {
      const table: Route[] = [];
      routes.set(server, table);
      list = table;
      const find = (url: string | undefined): [Route | undefined, string] => {
        const path = (url ?? '/').split('?')[0] ?? '/';
        return [table.find((r) => r.path === null || r.path === path), path];
      };
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const [route, path] = find(req.url);
        if (route) route.server.handleUpgrade(req, socket, head);
        else refuse(socket, 404, `no WebSocket endpoint at ${path}`, {}, this.#clock);
      });
      if (isHttp2Server(server)) {
        acceptStreams(server, (stream, headers, req, rawHeaders) => {
          const [route, path] = find(headers[':path']);
          if (route) route.server.handleStream(stream, headers, req, rawHeaders);
          else refuseStream(stream, 404, `no WebSocket endpoint at ${path}`, {}, this.#clock);
        });
      }
    }
    list.push({ server: this, path: options.path ?? null });
    this.#attached.push(server);
    return this;
  }

  /** Creates and starts an http server that only serves this WebSocket server. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    intOption('port', port, 0, 0, 65535);
    const handshakeTimeout = this.#handshakeTimeout;
    const server = createServer(
      {
        maxHeaderSize: this.#maxHeaderSize,
        // node checks header timeouts on this interval (30 s by default): a slow-loris head would outlive the limit.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(handshakeTimeout / 4))),
        headersTimeout: handshakeTimeout,
        requestTimeout: handshakeTimeout,
      },
      (req, res) => this.handleRequest(req, res),
    );
    this.#ownServer = server;
    this.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /**
   * Answers a plain HTTP request that reached a WebSocket endpoint (node only emits 'upgrade' when both Upgrade and
   * Connection ask for it): the same checks as a handshake name what is missing, with `Connection: close`.
   */
  handleRequest(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    this.stats.handshakeFailures++;
    if (req.httpVersionMajor >= 2) {
      // HTTP/2 has no Upgrade and no Connection header (RFC 9113 §8.2.2): say which request opens a WebSocket here.
      (res as Http2ServerResponse)
        .writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'CONNECT' })
        .end('this endpoint only speaks WebSocket: over HTTP/2, an extended CONNECT with :protocol websocket\n');
      return;
    }
    const verdict = checkUpgradeRequest(req as IncomingMessage);
    const status = verdict.ok ? 426 : verdict.status;
    const message = verdict.ok ? 'this endpoint only speaks WebSocket' : verdict.message;
    const http1 = res as ServerResponse;
    http1.shouldKeepAlive = false;
    http1
      .writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        Connection: 'close',
        ...(verdict.ok ? {} : verdict.headers),
      })
      .end(`${message}\n`);
  }

  /** Completes or refuses one upgrade request. The socket is never left hanging: it is answered either way. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Errors during the handshake (a peer resetting) must not become uncaught exceptions.
    socket.on('error', destroyOnError);
    const verdict = checkUpgradeRequest(req);
    const clock = this.#clock;
    this.#handshake({
      req,
      verdict: verdict.ok
        ? { ok: true, host: req.headers.host ?? '', offeredProtocols: verdict.offeredProtocols }
        : verdict,
      origin: req.headers.origin,
      extensionOffer: req.headers['sec-websocket-extensions'],
      get gone() {
        return socket.destroyed;
      },
      refuse: (status, message, headers) => refuse(socket, status, message, headers, clock),
      accept: (protocol, extensions) => {
        socket.write(acceptResponse(verdict.ok ? verdict.key : '', protocol, extensions));
        socket.off('error', destroyOnError);
        return { transport: socket, head };
      },
    });
  }

  /**
   * Completes or refuses one extended CONNECT stream of a node:http2 server (RFC 8441 §4–5), answered either way.
   * For servers that route their own 'stream' events: attach() calls it for the streams it finds.
   */
  handleStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    req?: Http2ServerRequest,
    rawHeaders: string[] = [],
  ): void {
    this.#handshake(streamHandshake(stream, headers, req, rawHeaders, this.#clock));
  }

  /** The checks every handshake passes, over HTTP/1.1 or HTTP/2, then the answer and the connection. */
  #handshake(h: PendingHandshake): void {
    const reject = (status: number, message: string, headers?: Record<string, string>): void => {
      this.stats.handshakeFailures++;
      h.refuse(status, message, headers);
      if (this.listenerCount('rejected') === 0) return;
      // Any peer can get itself refused: a listener that throws is a bug in the app, said as a warning, never a crash
      // of the 'upgrade' event (or an unhandled rejection after authorize()).
      try {
        this.emit('rejected', { status, message, req: h.req });
      } catch (err) {
        warnOf(err);
      }
    };
    if (this.#closing) {
      reject(503, 'server is shutting down');
      return;
    }
    const verdict = h.verdict;
    if (!verdict.ok) {
      reject(verdict.status, verdict.message, verdict.headers);
      return;
    }
    let allowed: boolean;
    try {
      allowed = isOriginAllowed(this.#origins, h.origin, verdict.host);
    } catch {
      // A policy function that throws refuses; it must not become an uncaught exception in the upgrade listener.
      allowed = false;
    }
    if (!allowed) {
      reject(403, `origin ${h.origin} is not allowed`);
      return;
    }
    const complete = (): void => {
      this.#authorizing.delete(h);
      if (h.gone) return;
      // An authorization that ended after close() began must not open a connection shutdown will never see.
      if (this.#closing) {
        reject(503, 'server is shutting down');
        return;
      }
      const protocol = selectProtocol(this.#protocols, verdict.offeredProtocols);
      const negotiated = this.#compression ? negotiateServer(h.extensionOffer, this.#compression) : null;
      const { transport, head } = h.accept(protocol, negotiated?.response ?? '');
      this.#open(transport, head, protocol, negotiated, h.req);
    };
    const authorize = this.#authorize;
    if (!authorize) {
      complete();
      return;
    }
    this.#authorizing.add(h);
    Promise.resolve()
      .then(() => authorize(h.req))
      .then(
        (answer) => {
          if (answer === true) return complete();
          this.#authorizing.delete(h);
          if (answer === false) return reject(403, 'not authorized');
          if (Number.isInteger(answer) && (answer as number) >= 400 && (answer as number) <= 599) {
            return reject(answer as number, 'not authorized');
          }
          // A 200 here would "refuse" with a success status: that is a bug in the app, said loudly, and refused.
          process.emitWarning(
            new TypeError(`authorize must return true, false or an HTTP status 400–599, got ${describe(answer)}`),
          );
          reject(500, 'authorization failed');
        },
        () => {
          this.#authorizing.delete(h);
          reject(500, 'authorization failed');
        },
      );
  }

  #open(
    socket: Duplex,
    head: Buffer,
    protocol: string,
    negotiated: ReturnType<typeof negotiateServer>,
    req: WebSocketRequest,
  ): void {
    const tcp = socket as Duplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void };
    tcp.setNoDelay?.(true);
    tcp.setTimeout?.(0);
    const deflate =
      negotiated && this.#compression ? new PerMessageDeflate(negotiated.params, 'server', this.#compression) : null;
    const conn = new Connection(
      socket,
      {
        limits: this.#limits,
        role: 'server',
        protocol,
        extensions: negotiated?.response ?? '',
        deflate,
        clock: this.#clock,
      },
      head,
      this.stats,
      this.#forget,
    );
    this.clients.add(conn);
    this.#heartbeat?.add(conn);
    try {
      this.emit('connection', conn, req);
    } catch (err) {
      connectionHandlerFailed(err, conn);
    }
  }

  /** node calls this for a promise rejected by an async listener (captureRejections). */
  [Symbol.for('nodejs.rejection')](err: unknown, event: string, ...args: unknown[]): void {
    const conn = event === 'connection' && args[0] instanceof Connection ? args[0] : null;
    if (conn) connectionHandlerFailed(err, conn);
    else warnOf(err);
  }

  /**
   * Graceful shutdown: refuse new upgrades (503), send 1001 to every peer, wait for their close frames until
   * `shutdownTimeout`, then terminate whoever is left. Closes the http server too when listen() created it.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const own = this.#ownServer;
    const ownClosed = own ? new Promise<void>((resolve) => own.close(() => resolve())) : Promise.resolve();
    for (const h of this.#authorizing) h.refuse(503, 'server is shutting down');
    this.#authorizing.clear();
    const all = [...this.clients].map((c) => c.close(CloseCode.GoingAway, 'server shutting down'));
    const timeout = this.#shutdownTimeout;
    let timer: unknown = null;
    await Promise.race([
      Promise.all(all),
      new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(resolve, timeout);
      }),
    ]);
    this.#clock.clearTimeout(timer);
    for (const c of this.clients) c.terminate();
    await Promise.all([...this.clients].map((c) => c.closed));
    this.#heartbeat?.stop();
    own?.closeAllConnections();
    await ownClosed;
  }

  /** Where the server made by listen() listens; null without one (attach() and handleUpgrade() only). */
  get address(): AddressInfo | null {
    return (this.#ownServer?.address() as AddressInfo | null) ?? null;
  }
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** A 'connection' listener that throws is a bug in the app: that connection closes with 1011, the process goes on. */
function connectionHandlerFailed(err: unknown, conn: Connection): void {
  warnOf(err);
  if (conn.readyState === ReadyState.Open) conn.close(CloseCode.InternalError, 'handler error');
}

/**
 * Answers a refused handshake with a plain HTTP response and closes the socket. node hands an upgraded socket over
 * with no 'error' listener: a peer that resets it now must not crash the process.
 */
function refuse(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  clock: Clock = systemClock,
): void {
  if (!socket.listeners('error').includes(destroyOnError)) socket.on('error', destroyOnError);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  socket.end(`${head}\r\n${body}`);
  // Drain whatever the client still sends (so the close is a FIN, not a reset that could eat the answer), and bound
  // how long a client that never closes its side can hold the socket.
  socket.resume();
  const timer = clock.setTimeout(() => socket.destroy(), REFUSE_LINGER);
  socket.once('close', () => clock.clearTimeout(timer));
}
