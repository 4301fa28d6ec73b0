// A raw TCP WebSocket peer for integration tests: a hand-written client handshake (RFC 6455 §4.1), crafted frames of
// any shape (§5.2, masked or not, any opcode/RSV/FIN/length, or arbitrary bytes in chops), and a small reader of the
// server's unmasked frames. Deliberately independent of the library's own codec, so it can check it.
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';

export const Op = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

/** Default bound on every wait, in ms: a test fails with a message instead of hanging. */
export const DEFAULT_WAIT = 5_000;
/**
 * How soon TCP must close after the close frame: well under the library's default close timeout (5 s), so a server
 * that forgets to close and is rescued by its timer still fails the check (§7.1.1: the server closes TCP first).
 */
export const PROMPT_TCP_CLOSE = 2_000;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** Default true. */
  fin?: boolean;
  /** The three reserved bits as a number 0–7: RSV1 = 4, RSV2 = 2, RSV3 = 1. */
  rsv?: number;
  /** Default true: clients must mask (§5.1); false crafts an unmasked (illegal) client frame. */
  mask?: boolean;
  maskKey?: Buffer;
}

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export interface HttpResponse {
  statusLine: string;
  status: number;
  /** Lower-cased names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Whatever followed the header block until the server closed (empty for a 101). */
  body: Buffer;
}

export interface HandshakeOptions {
  path?: string;
  /** Replaces or, with `undefined`, removes a default header (names are matched case-insensitively). */
  headers?: Record<string, string | undefined>;
  method?: string;
  httpVersion?: string;
  timeout?: number;
}

export interface ReceivedMessage {
  type: 'text' | 'binary';
  data: Buffer;
}

/** Encodes one client frame exactly as specified. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const masked = spec.mask ?? true;
  const len = payload.length;
  const extra = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const header = Buffer.alloc(2 + extra + (masked ? 4 : 0));
  header[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const len7 = extra === 0 ? len : extra === 2 ? 126 : 127;
  header[1] = (masked ? 0x80 : 0) | len7;
  if (extra === 2) header.writeUInt16BE(len, 2);
  else if (extra === 8) header.writeBigUInt64BE(BigInt(len), 2);
  if (!masked) return Buffer.concat([header, payload]);
  const key = spec.maskKey ?? randomBytes(4);
  key.copy(header, 2 + extra);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([header, body]);
}

/** A close frame body: 2-byte code then the reason (a Buffer allows invalid UTF-8). */
export function closePayload(code: number, reason: string | Buffer = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** Splits `data` into pieces of `size` bytes (the last may be shorter). */
export function chop(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** Races `promise` against a deadline; the error names what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Bounded polling on a condition (for state that has no event), e.g. a server's client count. */
export async function waitUntil(condition: () => boolean, what: string, ms = DEFAULT_WAIT): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export class RawPeer {
  readonly socket: Socket;
  /** Resolves when the TCP connection is fully closed (either side). */
  readonly tcpClosed: Promise<void>;
  /** True once the server half-closed (FIN received). */
  gotFin = false;
  /** A socket error seen (EPIPE, ECONNRESET...), kept instead of thrown. */
  error: Error | null = null;
  /** When true, server pings are answered at once with a matching pong and not queued (heartbeat tests). */
  autoPong = false;

  #chunks: Buffer[] = [];
  #buffered = 0;
  #upgraded = false;
  #frames: ServerFrame[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    // A stream (RawPeer.over) has no Nagle to turn off.
    socket.setNoDelay?.(true);
    this.tcpClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#upgraded) this.#parseFrames();
      this.#wake();
    });
    socket.on('end', () => {
      this.gotFin = true;
      this.#wake();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** Opens a TCP connection and nothing more. */
  static dial(port: number, host = '127.0.0.1', timeout = DEFAULT_WAIT): Promise<RawPeer> {
    const socket = netConnect({ port, host });
    return within(
      new Promise<RawPeer>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve(new RawPeer(socket));
        });
      }),
      timeout,
      `TCP connect to ${host}:${port}`,
    ).catch((err: unknown) => {
      socket.destroy();
      throw err;
    });
  }

  /**
   * A peer on a stream whose WebSocket is already open, such as an HTTP/2 extended CONNECT stream (RFC 8441): frames
   * from the first byte. The stream's END_STREAM stands for the FIN and is answered with ours unless `answerEnd` is
   * false (to see a reset that follows it); `socket` is the stream (it has no TCP properties).
   */
  static over(stream: Duplex, answerEnd = true): RawPeer {
    const peer = new RawPeer(stream as Socket);
    peer.#upgraded = true;
    if (answerEnd) stream.on('end', () => stream.end());
    return peer;
  }

  /** Dials and completes a WebSocket handshake; throws unless the server answers 101 with the right accept key. */
  static async open(port: number, options: HandshakeOptions = {}): Promise<RawPeer> {
    const peer = await RawPeer.dial(port);
    try {
      const res = await peer.handshake(options);
      if (res.status !== 101) throw new Error(`handshake refused: ${res.statusLine} ${res.body.toString()}`);
    } catch (err) {
      peer.destroy();
      throw err;
    }
    return peer;
  }

  /**
   * Sends a client opening handshake and reads the answer. A 101 is checked (Upgrade, Connection, accept key) and the
   * peer switches to frames; any other status is read to the end of the connection, so the caller sees the body.
   */
  async handshake(options: HandshakeOptions = {}): Promise<HttpResponse> {
    const key = randomBytes(16).toString('base64');
    const defaults: Record<string, string | undefined> = {
      Host: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
    };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      for (const d of Object.keys(defaults)) if (d.toLowerCase() === name.toLowerCase()) delete defaults[d];
      defaults[name] = value;
    }
    let text = `${options.method ?? 'GET'} ${options.path ?? '/echo'} HTTP/${options.httpVersion ?? '1.1'}\r\n`;
    for (const [name, value] of Object.entries(defaults)) if (value !== undefined) text += `${name}: ${value}\r\n`;
    const res = await this.request(`${text}\r\n`, options.timeout);
    if (res.status === 101) {
      const sentKey = defaults['Sec-WebSocket-Key'];
      if (sentKey !== undefined) {
        const expected = createHash('sha1')
          .update(sentKey + GUID)
          .digest('base64');
        if (res.headers['sec-websocket-accept'] !== expected) throw new Error('wrong Sec-WebSocket-Accept');
      }
      if (res.headers.upgrade?.toLowerCase() !== 'websocket') throw new Error('101 without Upgrade: websocket');
    }
    return res;
  }

  /** Writes raw bytes and reads one HTTP response head; for a non-101 answer, also the body until the server closes. */
  async request(raw: string | Buffer, timeout = DEFAULT_WAIT): Promise<HttpResponse> {
    this.socket.write(raw);
    const headEnd = await this.#until(() => this.#find('\r\n\r\n'), timeout, 'an HTTP response head');
    const head = this.#take(headEnd + 4).toString('latin1');
    const lines = head.slice(0, -4).split('\r\n');
    const statusLine = lines[0] ?? '';
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    if (status === 101) {
      this.#upgraded = true;
      this.#parseFrames();
      return { statusLine, status, headers, body: Buffer.alloc(0) };
    }
    await this.#until(() => this.#closed || null, timeout, `the server to close after "${statusLine}"`);
    return { statusLine, status, headers, body: this.#take(this.#buffered) };
  }

  /** Sends one crafted frame; resolves once the bytes are handed to the kernel. */
  send(spec: FrameSpec): Promise<void> {
    return this.sendRaw(encodeFrame(spec));
  }

  sendText(text: string | Buffer, fin = true): Promise<void> {
    return this.send({ opcode: Op.Text, payload: text, fin });
  }

  sendBinary(data: Buffer, fin = true): Promise<void> {
    return this.send({ opcode: Op.Binary, payload: data, fin });
  }

  sendClose(code?: number, reason: string | Buffer = ''): Promise<void> {
    return this.send({ opcode: Op.Close, payload: code === undefined ? Buffer.alloc(0) : closePayload(code, reason) });
  }

  sendRaw(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) {
        resolve();
        return;
      }
      // A server that has already failed the connection may reset it; that is recorded in `error`, not thrown.
      this.socket.write(bytes, () => resolve());
    });
  }

  /**
   * Writes `bytes` in pieces of `size`. With `gaps` (the default) each piece is flushed and followed by a turn of the
   * event loop, so the server sees them as separate reads; without, they are queued at once (bulk chopping).
   */
  async sendChopped(bytes: Buffer, size: number, gaps = true): Promise<void> {
    const pieces = chop(bytes, size);
    if (!gaps) {
      const last = pieces.pop();
      for (const piece of pieces) this.socket.write(piece);
      if (last) await this.sendRaw(last);
      return;
    }
    for (const piece of pieces) {
      await this.sendRaw(piece);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The next frame from the server, in order. */
  async nextFrame(timeout = DEFAULT_WAIT): Promise<ServerFrame> {
    return this.#until(
      () => {
        const f = this.#frames.shift();
        if (f) return f;
        if (this.#closed) throw new Error('connection closed while waiting for a frame');
        return null;
      },
      timeout,
      'a frame from the server',
    );
  }

  /** The next data message, reassembled from its frames; a control frame in between is an error. */
  async nextMessage(timeout = DEFAULT_WAIT): Promise<ReceivedMessage> {
    const first = await this.nextFrame(timeout);
    if (first.opcode !== Op.Text && first.opcode !== Op.Binary) {
      throw new Error(`expected a data frame, got ${describeFrame(first)}`);
    }
    if (first.masked) throw new Error(`server frames must not be masked (§5.1): ${describeFrame(first)}`);
    const parts = [first.payload];
    let last = first;
    while (!last.fin) {
      last = await this.nextFrame(timeout);
      if (last.opcode !== Op.Continuation || last.masked) {
        throw new Error(`expected an unmasked continuation frame, got ${describeFrame(last)}`);
      }
      parts.push(last.payload);
    }
    return { type: first.opcode === Op.Text ? 'text' : 'binary', data: Buffer.concat(parts) };
  }

  /** Expects the next message to be exactly `expected` (a string means a text message). */
  async expectEcho(
    expected: string | Buffer,
    type: 'text' | 'binary' = 'binary',
    timeout = DEFAULT_WAIT,
  ): Promise<void> {
    const msg = await this.nextMessage(timeout);
    const want = typeof expected === 'string' ? Buffer.from(expected) : expected;
    const kind = typeof expected === 'string' ? 'text' : type;
    if (msg.type !== kind) throw new Error(`expected a ${kind} message, got ${msg.type}`);
    if (!msg.data.equals(want)) {
      throw new Error(`echo differs: expected ${want.length} bytes, got ${msg.data.length} (${preview(msg.data)})`);
    }
  }

  /** Expects the next frame to be a pong with exactly `payload`. */
  async expectPong(payload: Buffer | string, timeout = DEFAULT_WAIT): Promise<void> {
    const f = await this.nextFrame(timeout);
    const want = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (f.opcode !== Op.Pong || !f.payload.equals(want)) {
      throw new Error(`expected a pong of ${want.length} bytes, got ${describeFrame(f)}`);
    }
  }

  /** Expects the next frame to be a ping from the server and returns its payload (answer it with `send`). */
  async expectPing(timeout = DEFAULT_WAIT): Promise<Buffer> {
    const f = await this.nextFrame(timeout);
    if (f.opcode !== Op.Ping) throw new Error(`expected a ping, got ${describeFrame(f)}`);
    return f.payload;
  }

  /**
   * Expects the next frame to be a close with `code` (null: an empty close payload; undefined: any), then the
   * server to close TCP, with no frame in between. Returns the close code and reason.
   */
  async expectClose(code?: number | null, timeout = DEFAULT_WAIT): Promise<{ code: number | null; reason: string }> {
    const f = await this.nextFrame(timeout);
    if (f.opcode !== Op.Close) throw new Error(`expected a close frame, got ${describeFrame(f)}`);
    if (f.masked || f.rsv !== 0 || !f.fin)
      throw new Error(`malformed close frame from the server: ${describeFrame(f)}`);
    const got = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    const reason = f.payload.subarray(2).toString('utf8');
    if (code !== undefined && got !== code) {
      throw new Error(`expected close code ${code}, got ${got} (reason "${reason}")`);
    }
    await this.expectTcpClose(Math.min(timeout, PROMPT_TCP_CLOSE));
    return { code: got, reason };
  }

  /** Waits for the server to close TCP and asserts that no further frame arrived before it did. */
  async expectTcpClose(timeout = DEFAULT_WAIT): Promise<void> {
    await this.#until(() => this.gotFin || this.#closed || null, timeout, 'the server to close TCP');
    // Our side answers the FIN (net's default allowHalfOpen=false); wait for the full close.
    await within(this.tcpClosed, timeout, 'the TCP connection to close');
    if (this.#frames.length > 0)
      throw new Error(`unexpected frame after the close: ${describeFrame(this.#frames[0]!)}`);
  }

  /** Frames received and not yet read. */
  get pendingFrames(): readonly ServerFrame[] {
    return this.#frames;
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ---- Reader ----------------------------------------------------------------------------------------------------

  #parseFrames(): void {
    for (;;) {
      if (this.#buffered < 2) return;
      const head = this.#peek(Math.min(this.#buffered, 14));
      const b0 = head[0]!;
      const b1 = head[1]!;
      const masked = (b1 & 0x80) !== 0;
      const len7 = b1 & 0x7f;
      const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const headerLen = 2 + extra + (masked ? 4 : 0);
      if (head.length < headerLen) return;
      const len = extra === 0 ? len7 : extra === 2 ? head.readUInt16BE(2) : Number(head.readBigUInt64BE(2));
      if (this.#buffered < headerLen + len) return;
      const key = masked ? Buffer.from(head.subarray(2 + extra, headerLen)) : null;
      this.#take(headerLen);
      const payload = Buffer.from(this.#take(len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
      const frame = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
      if (this.autoPong && frame.opcode === Op.Ping) void this.send({ opcode: Op.Pong, payload });
      else this.#frames.push(frame);
    }
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all.subarray(0, n);
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.#chunks);
      out = all.subarray(0, n);
      this.#chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.#buffered -= n;
    return out;
  }

  #find(marker: string): number | null {
    if (this.#buffered === 0) return null;
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [all];
    const at = all.indexOf(marker, 0, 'latin1');
    if (at >= 0) return at;
    if (this.#closed) throw new Error(`connection closed before "${JSON.stringify(marker)}"`);
    return null;
  }

  /** Resolves with the first non-null value of `check`, re-evaluated on every socket event, bounded in time. */
  #until<T>(check: () => T | null, timeout: number, what: string): Promise<T> {
    return within(
      new Promise<T>((resolve, reject) => {
        const attempt = (): void => {
          try {
            const v = check();
            if (v !== null) resolve(v);
            else if (this.#closed) reject(new Error(`connection closed while waiting for ${what}`));
            else this.#waiters.push(attempt);
          } catch (err) {
            reject(err);
          }
        };
        attempt();
      }),
      timeout,
      what,
    );
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

export function describeFrame(f: ServerFrame): string {
  const code = f.opcode === Op.Close && f.payload.length >= 2 ? ` code ${f.payload.readUInt16BE(0)}` : '';
  return `frame opcode 0x${f.opcode.toString(16)} fin=${f.fin} rsv=${f.rsv} masked=${f.masked} len=${f.payload.length}${code}`;
}

function preview(data: Buffer): string {
  return data.length <= 32 ? data.toString('hex') : `${data.subarray(0, 32).toString('hex')}…`;
}

/** A handshaken raw peer on `port`, destroyed when the test ends. */
export async function openPeer(t: TestContext, port: number, options: HandshakeOptions = {}): Promise<RawPeer> {
  const peer = await RawPeer.open(port, options);
  t.after(() => peer.destroy());
  return peer;
}

/** A raw TCP connection to `port` with no handshake yet, destroyed when the test ends. */
export async function dialPeer(t: TestContext, port: number): Promise<RawPeer> {
  const peer = await RawPeer.dial(port);
  t.after(() => peer.destroy());
  return peer;
}

/** Autobahn ends every case with a clean close: our 1000, echoed, then the server closes TCP. */
export async function closeNormally(peer: RawPeer, timeout?: number): Promise<void> {
  await peer.sendClose(1000);
  await peer.expectClose(1000, timeout);
}

/** The server still serves a well-behaved client: a fresh connection echoes and closes cleanly. */
export async function stillServes(t: TestContext, port: number): Promise<void> {
  const peer = await openPeer(t, port);
  await peer.sendText('still alive');
  await peer.expectEcho('still alive');
  await closeNormally(peer);
}
