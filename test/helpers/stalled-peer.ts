// Raw TCP peers that misbehave on purpose, for heartbeat and backpressure tests: a client that completes the
// handshake (RFC 6455 §4.1) and then stops reading, and a server that accepts the handshake and then stays silent.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** A client that completed the handshake and then paused its socket: the kernel buffers fill, then the server's. */
export class StalledPeer {
  readonly socket: Socket;
  /** Resolves when TCP is fully closed, whichever side closed it. */
  readonly closed: Promise<void>;
  /** Frames read after resume(), in order. */
  readonly frames: ServerFrame[] = [];
  #pending: Buffer;
  #onFrame: (() => void) | null = null;

  private constructor(socket: Socket, leftover: Buffer) {
    this.socket = socket;
    this.#pending = leftover;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    // Resets caused by the server terminating us are expected; keep them from becoming uncaught.
    socket.on('error', () => {});
  }

  /** Dials, sends a valid client handshake, checks the 101 and pauses before any frame is read. */
  static async open(port: number, path = '/', host = '127.0.0.1'): Promise<StalledPeer> {
    const socket = netConnect({ port, host });
    const key = randomBytes(16).toString('base64');
    const head = await new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.off('error', reject);
        // Stop reading at once: from here on only the kernel's buffers sit between the server and us.
        socket.pause();
        resolve(buf);
      };
      socket.once('error', reject);
      socket.on('data', onData);
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
    const end = head.indexOf('\r\n\r\n');
    const text = head.subarray(0, end).toString('latin1');
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    if (!text.startsWith('HTTP/1.1 101') || !text.includes(accept)) {
      socket.destroy();
      throw new Error(`handshake refused: ${text.split('\r\n')[0]}`);
    }
    return new StalledPeer(socket, head.subarray(end + 4));
  }

  /** Starts reading again, parsing the server's (unmasked) frames into `frames`. */
  resume(): void {
    this.socket.on('data', (chunk: Buffer) => {
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      this.#parse();
      this.#onFrame?.();
    });
    this.socket.resume();
    this.#parse();
  }

  /** Resolves once `frames` satisfies `done`, or rejects when the socket closes first or `ms` pass. */
  waitFrames(done: (frames: readonly ServerFrame[]) => boolean, ms = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${ms} ms waiting for frames`)), ms);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.#onFrame = null;
        this.socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onClose = (): void => finish(done(this.frames) ? undefined : new Error('socket closed before the frames'));
      this.#onFrame = () => {
        if (done(this.frames)) finish();
      };
      this.socket.once('close', onClose);
      if (done(this.frames)) finish();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  #parse(): void {
    let buf = this.#pending;
    for (;;) {
      if (buf.length < 2) break;
      const len7 = buf[1]! & 0x7f;
      const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (buf.length < 2 + extra) break;
      const len = extra === 0 ? len7 : extra === 2 ? buf.readUInt16BE(2) : Number(buf.readBigUInt64BE(2));
      if (buf.length < 2 + extra + len) break;
      const start = 2 + extra;
      this.frames.push({
        fin: (buf[0]! & 0x80) !== 0,
        opcode: buf[0]! & 0x0f,
        payload: buf.subarray(start, start + len),
      });
      buf = buf.subarray(start + len);
    }
    this.#pending = buf;
  }
}

/** A TCP server that answers any WebSocket handshake with a valid 101 and then never reads, writes or pongs. */
export interface SilentServer {
  port: number;
  url: string;
  /** Sockets accepted so far (open or not). */
  readonly sockets: Socket[];
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? '';
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      // From here on: silence. Reading continues only so that the client's pings do not back up into its buffers.
      socket.off('data', onData);
      socket.on('data', () => {});
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
