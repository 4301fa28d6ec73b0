// WebSocketServer: accepts upgrades (RFC 6455 §4.2) from node:http/https servers, tracks its connections, and shuts
// down gracefully with 1001 (§7.4.1 "going away").
import { EventEmitter } from 'node:events';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Clock, resolveClock, systemClock } from './clock.js';
import { Connection } from './connection/connection.js';
import { Heartbeat, type HeartbeatOptions } from './connection/heartbeat.js';
import { LIMIT_KEYS, resolveLimits } from './connection/limits.js';
import { type ConnectionLimits, ReadyState } from './connection/types.js';
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
import { validateProtocols } from './handshake/tokens.js';
import { CloseCode, DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT } from './protocol/constants.js';
import { Stats } from './stats.js';
import { checkKeys, describe, intOption, optionalFunction, optionsObject } from './validate.js';

export interface ServerOptions extends Partial<ConnectionLimits> {
  /** Who may connect from a browser. Default 'same-origin'; '*' must be said explicitly. */
  origins?: OriginPolicy;
  /** Subprotocols this server speaks, most preferred first. */
  protocols?: readonly string[];
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
  authorize?: (req: IncomingMessage) => boolean | number | Promise<boolean | number>;
  clock?: Clock;
}

export interface ServerEvents {
  connection: [Connection, IncomingMessage];
  /** A refused handshake: the status sent and why. */
  rejected: [{ status: number; message: string; req: IncomingMessage }];
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
const routes = new WeakMap<HttpServer | HttpsServer, Route[]>();

export class WebSocketServer extends EventEmitter<ServerEvents> {
  /** Open connections. */
  readonly clients = new Set<Connection>();
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
  /** Sockets whose handshake waits on `authorize`: shutdown refuses them rather than waiting. */
  readonly #authorizing = new Set<Duplex>();
  readonly #forget = (conn: Connection): void => {
    this.clients.delete(conn);
    this.#heartbeat?.delete(conn);
  };
  #ownServer: HttpServer | null = null;
  #attached: Array<HttpServer | HttpsServer> = [];

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

  /** Serves upgrades on `path` (every path when omitted) of an existing http/https server; others get 404. */
  attach(server: HttpServer | HttpsServer, options: { path?: string } = {}): this {
    let list = routes.get(server);
    if (!list) {
      const table: Route[] = [];
      routes.set(server, table);
      list = table;
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const path = (req.url ?? '/').split('?')[0];
        const route = table.find((r) => r.path === null || r.path === path);
        if (route) route.server.handleUpgrade(req, socket, head);
        else refuse(socket, 404, `no WebSocket endpoint at ${path}`, {}, this.#clock);
      });
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
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const verdict = checkUpgradeRequest(req);
    const status = verdict.ok ? 426 : verdict.status;
    const message = verdict.ok ? 'this endpoint only speaks WebSocket' : verdict.message;
    this.stats.handshakeFailures++;
    res.shouldKeepAlive = false;
    res
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
    const reject = (status: number, message: string, headers?: Record<string, string>): void => {
      this.stats.handshakeFailures++;
      refuse(socket, status, message, headers, this.#clock);
      if (this.listenerCount('rejected') > 0) this.emit('rejected', { status, message, req });
    };
    if (this.#closing) {
      reject(503, 'server is shutting down');
      return;
    }
    const verdict = checkUpgradeRequest(req);
    if (!verdict.ok) {
      reject(verdict.status, verdict.message, verdict.headers);
      return;
    }
    let allowed: boolean;
    try {
      allowed = isOriginAllowed(this.#origins, req.headers.origin, req.headers.host);
    } catch {
      // A policy function that throws refuses; it must not become an uncaught exception in the upgrade listener.
      allowed = false;
    }
    if (!allowed) {
      reject(403, `origin ${req.headers.origin} is not allowed`);
      return;
    }
    const complete = (): void => {
      this.#authorizing.delete(socket);
      if (socket.destroyed) return;
      // An authorization that ended after close() began must not open a connection shutdown will never see.
      if (this.#closing) {
        reject(503, 'server is shutting down');
        return;
      }
      const protocol = selectProtocol(this.#protocols, verdict.offeredProtocols);
      const negotiated = this.#compression
        ? negotiateServer(req.headers['sec-websocket-extensions'], this.#compression)
        : null;
      socket.write(acceptResponse(verdict.key, protocol, negotiated?.response ?? ''));
      socket.off('error', destroyOnError);
      this.#open(socket, head, protocol, negotiated, req);
    };
    const authorize = this.#authorize;
    if (!authorize) {
      complete();
      return;
    }
    this.#authorizing.add(socket);
    Promise.resolve()
      .then(() => authorize(req))
      .then(
        (answer) => {
          if (answer === true) return complete();
          this.#authorizing.delete(socket);
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
          this.#authorizing.delete(socket);
          reject(500, 'authorization failed');
        },
      );
  }

  #open(
    socket: Duplex,
    head: Buffer,
    protocol: string,
    negotiated: ReturnType<typeof negotiateServer>,
    req: IncomingMessage,
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
    else process.emitWarning(err instanceof Error ? err : new Error(String(err)));
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
    for (const socket of this.#authorizing) refuse(socket, 503, 'server is shutting down', {}, this.#clock);
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

  get address(): AddressInfo | null {
    return (this.#ownServer?.address() as AddressInfo | null) ?? null;
  }
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** A 'connection' listener that throws is a bug in the app: that connection closes with 1011, the process goes on. */
function connectionHandlerFailed(err: unknown, conn: Connection): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)));
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
