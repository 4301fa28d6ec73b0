// The load generator's lean WebSocket client (RFC 6455 §4.1, §5.2, §5.3): a pre-built upgrade request, pre-built masked
// client frames, and a minimal reader for server frames. Every socket reads into one shared buffer (net's `onread`),
// so a read allocates nothing; the reader copies only the few bytes it must keep across reads.
import { connect, type Socket } from 'node:net';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';

export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
const OP_PONG = 0xa;

/** What browsers offer (RFC 7692 §7.1.2.2: client_max_window_bits without a value says "I can take a smaller window"). */
export const DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits';

/** One fixed, non-zero masking key: the servers unmask every byte whatever the key is. */
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const PONG = Buffer.from([0x80 | OP_PONG, 0x80, ...MASK]);
const SEQ_BASE = 0x30;

/** Upgrade request bytes, the same for every connection of a run (servers do not care that keys repeat). */
export function upgradeRequest(port: number, path: string, extensions = ''): Buffer {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    'User-Agent: switchboard-bench',
  ];
  if (extensions) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** A complete masked client frame (FIN set). */
export function clientFrame(opcode: number, payload: Buffer, rsv1 = false): Buffer {
  const len = payload.length;
  const hl = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(hl + 4 + len);
  frame[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  MASK.copy(frame, hl);
  for (let i = 0; i < len; i++) frame[hl + 4 + i] = payload[i]! ^ MASK[i & 3]!;
  return frame;
}

/** Offset of the (masked) payload in a frame built by clientFrame. */
export function clientPayloadOffset(frame: Buffer): number {
  const b1 = frame[1]! & 0x7f;
  return (b1 === 126 ? 4 : b1 === 127 ? 10 : 2) + 4;
}

/**
 * A sequence number as the first four payload bytes, 6 bits per byte in printable ASCII (so text stays UTF-8);
 * patched into a pre-built masked frame in place. Up to 2^24 messages.
 */
export function patchSeq(frame: Buffer, payloadOffset: number, seq: number): void {
  frame[payloadOffset] = (SEQ_BASE + ((seq >>> 18) & 63)) ^ MASK[0]!;
  frame[payloadOffset + 1] = (SEQ_BASE + ((seq >>> 12) & 63)) ^ MASK[1]!;
  frame[payloadOffset + 2] = (SEQ_BASE + ((seq >>> 6) & 63)) ^ MASK[2]!;
  frame[payloadOffset + 3] = (SEQ_BASE + (seq & 63)) ^ MASK[3]!;
}

export function writeSeq(payload: Buffer, seq: number): void {
  payload[0] = SEQ_BASE + ((seq >>> 18) & 63);
  payload[1] = SEQ_BASE + ((seq >>> 12) & 63);
  payload[2] = SEQ_BASE + ((seq >>> 6) & 63);
  payload[3] = SEQ_BASE + (seq & 63);
}

export function readSeq(buf: Buffer, p: number): number {
  return (
    ((buf[p]! - SEQ_BASE) << 18) |
    ((buf[p + 1]! - SEQ_BASE) << 12) |
    ((buf[p + 2]! - SEQ_BASE) << 6) |
    (buf[p + 3]! - SEQ_BASE)
  );
}

/** §7.2.1 compression without context: valid whatever the negotiated context takeover, so it can be pre-built. */
export function deflateMessage(payload: Buffer): Buffer {
  const out = deflateRawSync(payload, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Inflates one connection's compressed messages (context takeover kept as a dictionary), for spot checks only. */
export class SampleInflater {
  #window: Buffer = Buffer.alloc(0);
  inflate(payload: Buffer): Buffer {
    const input = Buffer.concat([payload, SYNC_TAIL]);
    const opts: { finishFlush: number; dictionary?: Buffer } = { finishFlush: zlibConstants.Z_SYNC_FLUSH };
    if (this.#window.length > 0) opts.dictionary = this.#window;
    const out = inflateRawSync(input, opts);
    const joined = Buffer.concat([this.#window, out]);
    this.#window = Buffer.from(joined.subarray(Math.max(0, joined.length - 32768)));
    return out;
  }
}

/** Called once per complete server frame: the first header byte, and the payload's leading sequence number or -1. */
export type FrameCallback = (b0: number, seq: number) => void;
/** Called with whole payloads, for connections chosen for a content check. */
export type PayloadCallback = (b0: number, payload: Buffer) => void;

/** Minimal reader of unmasked server frames. Counts frames; copies nothing but split headers (and collected payloads). */
export class FrameReader {
  #carry: Buffer | null = null;
  #skip = 0;
  #pendingB0 = 0;
  #pendingSeq = -1;
  #parts: Buffer[] | null;
  readonly #onFrame: FrameCallback;
  readonly #onPayload: PayloadCallback | null;

  constructor(onFrame: FrameCallback, onPayload: PayloadCallback | null = null) {
    this.#onFrame = onFrame;
    this.#onPayload = onPayload;
    this.#parts = onPayload ? [] : null;
  }

  /** Bytes [start, end) of `chunk`, which may be reused after this returns. */
  push(chunk: Buffer, start: number, end: number): void {
    let buf = chunk;
    let off = start;
    let lim = end;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, lim - off);
      this.#parts?.push(Buffer.from(buf.subarray(off, off + n)));
      this.#skip -= n;
      off += n;
      if (this.#skip > 0) return;
      this.#complete(this.#pendingB0, this.#pendingSeq);
    }
    if (this.#carry) {
      buf = Buffer.concat([this.#carry, buf.subarray(off, lim)]);
      this.#carry = null;
      off = 0;
      lim = buf.length;
    }
    while (off < lim) {
      const avail = lim - off;
      if (avail < 2) break;
      const b0 = buf[off]!;
      const b1 = buf[off + 1]! & 0x7f;
      let hl = 2;
      let len = b1;
      if (b1 === 126) {
        if (avail < 4) break;
        len = buf.readUInt16BE(off + 2);
        hl = 4;
      } else if (b1 === 127) {
        if (avail < 10) break;
        len = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        hl = 10;
      }
      if (avail < hl + Math.min(len, 4)) break;
      const p = off + hl;
      const seq = len >= 4 && (b0 & 0x40) === 0 ? readSeq(buf, p) : -1;
      if (avail >= hl + len) {
        this.#parts?.push(Buffer.from(buf.subarray(p, p + len)));
        this.#complete(b0, seq);
        off = p + len;
        continue;
      }
      // The payload goes on in later reads: skip (or collect) it, and report the frame once it is whole.
      this.#parts?.push(Buffer.from(buf.subarray(p, lim)));
      this.#skip = hl + len - avail;
      this.#pendingB0 = b0;
      this.#pendingSeq = seq;
      return;
    }
    if (off < lim) this.#carry = Buffer.from(buf.subarray(off, lim));
  }

  #complete(b0: number, seq: number): void {
    if (this.#parts && this.#onPayload) {
      const payload = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#parts = [];
      this.#onPayload(b0, payload);
    }
    this.#onFrame(b0, seq);
  }
}

/** One shared read buffer for every socket of the process: reads are handled synchronously, so it is never shared live. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

export interface RawOptions {
  port: number;
  request: Buffer;
  onFrame: FrameCallback;
  onPayload?: PayloadCallback;
  /** Called after the frames of one read have been reported (to answer them in one write). */
  onReadEnd?: () => void;
}

/** A client connection on a raw TCP socket; `opened` resolves with the response headers once 101 arrives. */
export class RawConn {
  readonly socket: Socket;
  readonly opened: Promise<string>;
  /** True once the server sent a close frame or the socket closed. */
  closedByPeer = false;
  /** Bytes read after the 101 (frames from the server): the wire cost of what it sent. */
  bytesRead = 0;
  #head: Buffer | null = Buffer.alloc(0);
  readonly #reader: FrameReader;
  readonly #onFrame: FrameCallback;
  readonly #onReadEnd: (() => void) | null;
  #resolve!: (headers: string) => void;
  #reject!: (err: Error) => void;

  constructor(options: RawOptions) {
    this.#onFrame = options.onFrame;
    this.#onReadEnd = options.onReadEnd ?? null;
    this.#reader = new FrameReader((b0, seq) => this.#frame(b0, seq), options.onPayload ?? null);
    this.opened = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.socket = connect({
      host: '127.0.0.1',
      port: options.port,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.#onRead(n, buf as Buffer);
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => this.socket.write(options.request));
    this.socket.on('error', (err) => this.#reject(err));
    this.socket.on('close', () => {
      this.closedByPeer = true;
      this.#reject(new Error('socket closed before the upgrade completed'));
    });
  }

  #onRead(n: number, buf: Buffer): void {
    if (this.#head === null) {
      this.bytesRead += n;
      this.#reader.push(buf, 0, n);
      this.#onReadEnd?.();
      return;
    }
    const head = Buffer.concat([this.#head, buf.subarray(0, n)]);
    const end = head.indexOf(HEADER_END);
    if (end === -1) {
      if (head.length > 16384) this.#fail(new Error('response headers too long'));
      else this.#head = head;
      return;
    }
    this.#head = null;
    const headers = head.toString('latin1', 0, end);
    if (!headers.startsWith('HTTP/1.1 101')) {
      this.#fail(new Error(`upgrade refused: ${headers.split('\r\n')[0]}`));
      return;
    }
    this.#resolve(headers);
    this.bytesRead += head.length - end - 4;
    if (end + 4 < head.length) this.#reader.push(head, end + 4, head.length);
  }

  /** Pings are answered (the servers' heartbeats must not see an unresponsive peer); everything is reported. */
  #frame(b0: number, seq: number): void {
    const op = b0 & 0x0f;
    if (op === OP_PING) this.socket.write(PONG);
    else if (op === OP_CLOSE) this.closedByPeer = true;
    this.#onFrame(b0, seq);
  }

  #fail(err: Error): void {
    this.#reject(err);
    this.socket.destroy();
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** Closes with a reset: no TIME_WAIT left behind, so back-to-back runs of 19,000 connections never run out of ports. */
  destroy(): void {
    if (this.socket.destroyed) return;
    if (this.socket.readyState === 'open') this.socket.resetAndDestroy();
    else this.socket.destroy();
  }
}

/**
 * Opens `count` connections with at most `concurrency` handshakes in flight; rejects on the first failure or at the
 * deadline. Resolves with the connections and the time from the first connect to the last 101, in ms.
 */
export async function openMany(
  count: number,
  concurrency: number,
  deadlineMs: number,
  make: (index: number) => RawConn,
): Promise<{ conns: RawConn[]; elapsedMs: number }> {
  const conns: RawConn[] = [];
  const start = performance.now();
  let next = 0;
  let failure: Error | null = null;
  const deadline = start + deadlineMs;
  const lane = async (): Promise<void> => {
    while (next < count && failure === null) {
      if (performance.now() > deadline) throw new Error(`opened only ${conns.length} of ${count} connections in time`);
      const conn = make(next++);
      conns.push(conn);
      await conn.opened;
    }
  };
  const lanes = Array.from({ length: Math.min(concurrency, count) }, () =>
    lane().catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    }),
  );
  await Promise.all(lanes);
  if (failure !== null) {
    for (const c of conns) c.destroy();
    throw failure;
  }
  return { conns, elapsedMs: performance.now() - start };
}
