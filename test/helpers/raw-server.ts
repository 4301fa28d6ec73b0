// A raw TCP (or TLS) WebSocket server for client tests: it answers the opening handshake by hand (RFC 6455 §4.2.2),
// correctly or in a deliberately wrong way, writes crafted frames (optionally in chops), and parses the client's frames,
// checking that each one is masked with a fresh key (§5.1, §5.3).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { frame, type FrameSpec } from './frames.js';
import { closePayload, within } from './raw-peer.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DEFAULT_WAIT = 5_000;

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** A frame the raw server writes; `mask` sets the MASK bit, which a server must never do (§5.1). */
export type RawFrameSpec = FrameSpec;
/** One frame, built byte by byte, independently of the library's encoder. */
export const rawFrame = frame;
/** A close frame payload: 2-byte code then a reason (raw bytes allowed, to craft invalid UTF-8). */
export const closeBody = closePayload;
export { within };

export interface UpgradeRequestInfo {
  method: string;
  /** The request target, e.g. `/chat?room=1`. */
  path: string;
  httpVersion: string;
  /** Lower-cased names; repeated fields joined with ', '. */
  headers: Record<string, string>;
}

/** What to answer. Omitted fields get the correct value; `null` leaves a header out. */
export interface HandshakeReply {
  /** The status line's HTTP version; default 1.1. */
  version?: string;
  status?: number;
  reason?: string;
  upgrade?: string | null;
  connection?: string | null;
  accept?: string | null;
  protocol?: string;
  extensions?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Decides the answer to one upgrade request: a reply (built), bytes or a string (written verbatim), or `null` (never
 * answer).
 * It may return a promise, to delay the answer until the test lets it go.
 */
export type HandshakeHook = (
  req: UpgradeRequestInfo,
  peer: RawPeer,
) => HandshakeReply | string | Buffer | null | Promise<HandshakeReply | string | Buffer | null>;

export function buildReply(req: UpgradeRequestInfo, reply: HandshakeReply = {}): string {
  const status = reply.status ?? 101;
  const lines = [
    `HTTP/${reply.version ?? '1.1'} ${status} ${reply.reason ?? (status === 101 ? 'Switching Protocols' : 'Nope')}`,
  ];
  const upgrade = reply.upgrade === undefined ? 'websocket' : reply.upgrade;
  const connection = reply.connection === undefined ? 'Upgrade' : reply.connection;
  const key = req.headers['sec-websocket-key'] ?? '';
  const accept = reply.accept === undefined ? acceptFor(key) : reply.accept;
  if (upgrade !== null) lines.push(`Upgrade: ${upgrade}`);
  if (connection !== null) lines.push(`Connection: ${connection}`);
  if (accept !== null) lines.push(`Sec-WebSocket-Accept: ${accept}`);
  if (reply.protocol) lines.push(`Sec-WebSocket-Protocol: ${reply.protocol}`);
  if (reply.extensions) lines.push(`Sec-WebSocket-Extensions: ${reply.extensions}`);
  for (const [k, v] of Object.entries(reply.headers ?? {})) lines.push(`${k}: ${v}`);
  if (status !== 101) lines.push(`Content-Length: ${Buffer.byteLength(reply.body ?? '')}`);
  return `${lines.join('\r\n')}\r\n\r\n${status !== 101 ? (reply.body ?? '') : ''}`;
}

/** A frame the client sent, unmasked. */
export interface ClientFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  key: Buffer | null;
  payload: Buffer;
}

/** One accepted TCP connection, after its request was read. */
export class RawPeer {
  readonly socket: Socket;
  request!: UpgradeRequestInfo;
  /** Frames that broke §5.1/§5.3 (unmasked, or masked with the same key as the frame before). */
  readonly maskViolations: string[] = [];
  /** Resolves when the client half-closes (FIN); `endedAt` is then its performance.now(). */
  readonly ended: Promise<void>;
  endedAt = 0;
  /** Resolves when the TCP connection is fully closed. */
  readonly closed: Promise<void>;
  /** Client frames read so far, in order (readFrame() consumes from here). */
  framesSeen = 0;

  #chunks: Buffer[] = [];
  #buffered = 0;
  #frames: ClientFrame[] = [];
  #waiters: Array<() => void> = [];
  #lastKey: Buffer | null = null;
  #parseError: Error | null = null;
  #isEnded = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', () => {});
    this.ended = new Promise((resolve) => {
      socket.once('end', () => {
        this.#isEnded = true;
        this.endedAt = performance.now();
        this.#wake();
        resolve();
      });
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isEnded = true;
        this.#wake();
        resolve();
      });
    });
  }

  /** Called by the server once the handshake is over: further bytes are WebSocket frames. */
  startFrames(head: Buffer): void {
    if (head.length > 0) this.#onData(head);
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  /** Writes bytes; resolves once they are handed to the kernel. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  send(spec: RawFrameSpec): Promise<void> {
    return this.write(rawFrame(spec));
  }

  /**
   * Writes `bytes` in pieces of `size` bytes, waiting for each write to flush and a macrotask turn before the next,
   * so that the client sees them as separate reads (TCP_NODELAY is on).
   */
  async writeChopped(bytes: Buffer, size: number): Promise<void> {
    for (let at = 0; at < bytes.length; at += size) {
      await this.write(bytes.subarray(at, at + size));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** The next client frame; rejects on a deadline, on a malformed frame, or when the client closed first. */
  async readFrame(ms = DEFAULT_WAIT): Promise<ClientFrame> {
    const deadline = performance.now() + ms;
    for (;;) {
      const next = this.#frames.shift();
      if (next) return next;
      if (this.#parseError) throw this.#parseError;
      if (this.#isEnded) throw new Error('the client closed the TCP connection before sending another frame');
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for a client frame`);
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), left, 'a client frame');
    }
  }

  /** Reads data frames up to FIN and returns the message; control frames in between are returned in `controls`. */
  async readMessage(
    ms = DEFAULT_WAIT,
  ): Promise<{ opcode: number; data: Buffer; frames: number; controls: ClientFrame[] }> {
    const parts: Buffer[] = [];
    const controls: ClientFrame[] = [];
    let opcode = -1;
    let frames = 0;
    for (;;) {
      const f = await this.readFrame(ms);
      if (f.opcode >= 0x8) {
        if (f.opcode === OP.close) throw new Error(`expected a data frame, got close ${describeClose(f.payload)}`);
        controls.push(f);
        continue;
      }
      if (opcode === -1) {
        if (f.opcode === OP.cont) throw new Error('message starts with a continuation frame');
        opcode = f.opcode;
      } else if (f.opcode !== OP.cont) {
        throw new Error(`expected a continuation frame, got opcode ${f.opcode}`);
      }
      frames++;
      parts.push(f.payload);
      if (f.fin) return { opcode, data: Buffer.concat(parts), frames, controls };
    }
  }

  /** Reads frames up to a close frame (data and control frames before it are skipped) and decodes it. */
  async readClose(
    ms = DEFAULT_WAIT,
  ): Promise<{ code: number | null; reason: string; payload: Buffer; skipped: number }> {
    let skipped = 0;
    for (;;) {
      const f = await this.readFrame(ms);
      if (f.opcode !== OP.close) {
        skipped++;
        continue;
      }
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
      return { code, reason: f.payload.subarray(2).toString('utf8'), payload: f.payload, skipped };
    }
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#parseOne());
    this.#wake();
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all;
  }

  #parseOne(): boolean {
    if (this.#parseError || this.#buffered < 2) return false;
    let b = this.#peek(2);
    const len7 = b[1]! & 0x7f;
    const masked = (b[1]! & 0x80) !== 0;
    const headerLen = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.#buffered < headerLen) return false;
    b = this.#peek(headerLen);
    let len = len7;
    if (len7 === 126) len = b.readUInt16BE(2);
    else if (len7 === 127) len = b.readUInt32BE(2) * 2 ** 32 + b.readUInt32BE(6);
    if (this.#buffered < headerLen + len) return false;
    const whole = this.#peek(headerLen + len);
    const key = masked ? Buffer.from(whole.subarray(headerLen - 4, headerLen)) : null;
    const payload = Buffer.from(whole.subarray(headerLen, headerLen + len));
    if (key) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ key[i & 3]!;
    const rest = whole.subarray(headerLen + len);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered -= headerLen + len;
    const b0 = whole[0]!;
    const frame: ClientFrame = {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      key,
      payload,
    };
    const index = this.framesSeen++;
    // §5.1: "a client MUST mask all frames that it sends to the server".
    if (!key) this.maskViolations.push(`client frame #${index} (opcode ${frame.opcode}) is not masked`);
    // §5.3: "The masking key MUST be derived from a strong source of entropy", a fresh one per frame.
    else if (this.#lastKey?.equals(key)) {
      this.maskViolations.push(`client frame #${index} reuses the previous frame's masking key ${key.toString('hex')}`);
    }
    this.#lastKey = key;
    this.#frames.push(frame);
    return true;
  }
}

export function describeClose(payload: Buffer): string {
  return payload.length >= 2 ? `${payload.readUInt16BE(0)} "${payload.subarray(2).toString()}"` : '(no code)';
}

export interface RawServerOptions {
  /** How to answer each handshake; default: a correct 101. */
  handshake?: HandshakeHook;
  /** Serve TLS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** Listens on 127.0.0.1:0; every accepted connection becomes a RawPeer, handed out in order by nextPeer(). */
export class RawServer {
  readonly server: Server;
  readonly peers: RawPeer[] = [];
  readonly #opts: RawServerOptions;
  #ready: RawPeer[] = [];
  #waiters: Array<(p: RawPeer) => void> = [];
  readonly #sockets = new Set<Socket>();

  private constructor(opts: RawServerOptions) {
    this.#opts = opts;
    const onSocket = (socket: Socket): void => this.#accept(socket);
    // allowHalfOpen: a client FIN does not end our side; the peer decides (see RawPeer.ended).
    this.server = opts.tls
      ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert, allowHalfOpen: true }, onSocket)
      : createTcpServer({ allowHalfOpen: true }, onSocket);
    // Every transport socket, including TLS ones whose handshake failed and never became a peer, so close() ends all.
    this.server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  }

  static async start(opts: RawServerOptions = {}): Promise<RawServer> {
    const s = new RawServer(opts);
    s.server.listen(0, '127.0.0.1');
    await once(s.server, 'listening');
    return s;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/', scheme = this.#opts.tls ? 'wss' : 'ws'): string {
    return `${scheme}://127.0.0.1:${this.port}${path}`;
  }

  /** The next peer whose request has been read and answered (or left unanswered, for a hook that returns null). */
  nextPeer(ms = DEFAULT_WAIT): Promise<RawPeer> {
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    return within(new Promise<RawPeer>((resolve) => this.#waiters.push(resolve)), ms, 'a client connection');
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.destroy();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const peer = new RawPeer(socket);
    this.peers.push(peer);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      peer.request = parseRequest(head.subarray(0, end).toString('latin1'));
      void this.#answer(peer, head.subarray(end + 4));
    };
    socket.on('data', onData);
  }

  async #answer(peer: RawPeer, rest: Buffer): Promise<void> {
    const hook = this.#opts.handshake ?? (() => ({}));
    const reply = await hook(peer.request, peer);
    if (reply !== null && !peer.socket.destroyed) {
      await peer
        .write(typeof reply === 'string' || Buffer.isBuffer(reply) ? reply : buildReply(peer.request, reply))
        .catch(() => {});
    }
    peer.startFrames(rest);
    peer.socket.resume();
    const waiter = this.#waiters.shift();
    if (waiter) waiter(peer);
    else this.#ready.push(peer);
  }
}

function parseRequest(text: string): UpgradeRequestInfo {
  const [line = '', ...rest] = text.split('\r\n');
  const [method = '', path = '', version = ''] = line.split(' ');
  const headers: Record<string, string> = {};
  for (const h of rest) {
    const i = h.indexOf(':');
    if (i < 0) continue;
    const name = h.slice(0, i).trim().toLowerCase();
    const value = h.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { method, path, httpVersion: version.replace('HTTP/', ''), headers };
}
