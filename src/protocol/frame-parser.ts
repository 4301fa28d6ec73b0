// Incremental, sans-IO frame parser (RFC 6455 §5.2–§5.5): bytes in through push(), events out to a FrameSink.
// It enforces every frame-level rule; message-level rules (UTF-8, close payloads, inflation) belong to the caller.
// Work per call is bounded by a frame budget, and the sink may halt it between frames: the caller decides when the
// bytes still buffered are parsed, so one peer's burst cannot hold the event loop.
import { CloseCode, EMPTY, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { applyMask } from './mask.js';

export interface FrameSink {
  /** A data frame begins: `opcode` is Text/Binary on a message's first frame, Continuation after it. */
  onDataFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void;
  /** Unmasked payload bytes of the current data frame, in order, possibly in several pieces. */
  onData(chunk: Buffer): void;
  /** The current data frame's payload is complete. */
  onDataFrameEnd(fin: boolean): void;
  /** A complete control frame (Close, Ping, Pong); its payload is at most 125 bytes and already unmasked. */
  onControl(opcode: number, payload: Buffer): void;
  /** The peer broke the protocol; no further events follow. */
  onError(closeCode: CloseCode, message: string): void;
}

export interface FrameParserOptions {
  /** true on a server: every client frame must be masked (§5.1); false on a client: no server frame may be. */
  expectMasked: boolean;
  /** RSV1 is legal only when permessage-deflate was negotiated (RFC 7692 §6). */
  allowRsv1: boolean;
  /** Largest message payload; larger closes with 1009. Compressed messages get slack for deflate's overhead. */
  maxMessageSize: number;
  maxFragments: number;
}

export class FrameParser {
  readonly #sink: FrameSink;
  readonly #expectMasked: boolean;
  readonly #allowRsv1: boolean;
  readonly #maxMessageSize: number;
  readonly #maxFragments: number;
  /** Limit for uncompressed messages that begin from now on, set by a streaming reader; null: maxMessageSize. */
  #streamLimit: number | null = null;

  #chunks: Buffer[] = [];
  #head = 0; // read offset into #chunks[0]
  #buffered = 0;
  #failed = false;
  #halted = false;
  /** Frame headers the current call may still parse. */
  #budget = 0;

  // Current frame
  #inPayload = false;
  #opcode = 0;
  #fin = false;
  #remaining = 0;
  #payloadRead = 0;
  #maskKey: Uint8Array | null = null;
  #keyBytes: Uint8Array | null = null;
  #control: Buffer | null = null;

  // Current fragmented message
  #inMessage = false;
  #messageBytes = 0;
  #fragments = 0;
  #compressed = false;
  #limit = 0;

  constructor(sink: FrameSink, options: FrameParserOptions) {
    this.#sink = sink;
    this.#expectMasked = options.expectMasked;
    this.#allowRsv1 = options.allowRsv1;
    this.#maxMessageSize = options.maxMessageSize;
    this.#maxFragments = options.maxFragments;
  }

  /**
   * Sets (null: clears) the size limit of messages that begin from now on: a message streamed to a reader is never
   * held whole, so it may exceed maxMessageSize. The message in progress keeps the limit it began with.
   */
  setStreamLimit(limit: number | null): void {
    this.#streamLimit = limit;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** True while the sink has halted parsing (see halt()). */
  get halted(): boolean {
    return this.#halted;
  }

  /**
   * Stops parsing after the current event, keeping every byte not yet parsed; push() then only buffers. For a sink
   * that needs time before the next frame (a message inflated in slices). `drain()` goes on.
   */
  halt(): void {
    this.#halted = true;
  }

  /** Stops all further parsing: bytes that arrive after a close or a failure are ignored (§5.5.1, §7.1.7). */
  stop(): void {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
  }

  /**
   * Buffers `chunk` and parses until the bytes run out, the sink halts, or `maxFrames` frame headers were parsed.
   * Returns true when the budget ran out with bytes left: call drain() later to go on. (A halted parser returns false;
   * whoever halted it calls drain().)
   */
  push(chunk: Buffer, maxFrames = Number.POSITIVE_INFINITY): boolean {
    if (this.#failed) return false;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    if (this.#halted) return false;
    return this.#run(maxFrames);
  }

  /** Resumes a halted parser, or one that ran out of budget, over the bytes it still holds; returns as push() does. */
  drain(maxFrames = Number.POSITIVE_INFINITY): boolean {
    this.#halted = false;
    if (this.#failed) return false;
    return this.#run(maxFrames);
  }

  #run(maxFrames: number): boolean {
    this.#budget = maxFrames;
    while (!this.#failed && !this.#halted && (this.#inPayload ? this.#readPayload() : this.#readHeader()));
    return !this.#failed && !this.#halted && this.#budget <= 0 && this.#buffered > 0;
  }

  #readHeader(): boolean {
    if (this.#buffered < 2 || this.#budget <= 0) return false;
    const first = this.#chunks[0]!;
    // Peek the two fixed bytes to learn the full header size before consuming anything.
    const b0 = first.length - this.#head >= 2 ? first[this.#head]! : this.#peekByte(0);
    const b1 = first.length - this.#head >= 2 ? first[this.#head + 1]! : this.#peekByte(1);
    const len7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.#buffered < size) return false;
    const header = this.#take(size);
    this.#budget--;

    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    // §5.2: RSV2/RSV3 have no meaning without an extension that defines them, and we negotiate none.
    if (b0 & 0x30) return this.#fail(CloseCode.ProtocolError, 'RSV2/RSV3 set without a negotiated extension');
    if (masked !== this.#expectMasked) {
      return this.#fail(
        CloseCode.ProtocolError,
        this.#expectMasked ? 'client frame is not masked (§5.1)' : 'server frame is masked (§5.1)',
      );
    }
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = header.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const high = header.readUInt32BE(2);
      // §5.2: the most significant bit of a 64-bit length MUST be 0.
      if (high & 0x8000_0000) return this.#fail(CloseCode.ProtocolError, '64-bit payload length has its MSB set');
      length = high * 0x1_0000_0000 + header.readUInt32BE(6);
      at = 10;
    }
    if (masked) {
      // Copied, not sliced: a slice would keep the whole read chunk alive as long as the connection idles.
      this.#keyBytes ??= new Uint8Array(4);
      const key = this.#keyBytes;
      key[0] = header[at]!;
      key[1] = header[at + 1]!;
      key[2] = header[at + 2]!;
      key[3] = header[at + 3]!;
      this.#maskKey = key;
    } else {
      this.#maskKey = null;
    }

    if (opcode >= 0x8) {
      if (opcode > Opcode.Pong)
        return this.#fail(CloseCode.ProtocolError, `reserved control opcode 0x${opcode.toString(16)}`);
      // §5.5: control frames are never fragmented and carry at most 125 bytes.
      if (!fin) return this.#fail(CloseCode.ProtocolError, 'fragmented control frame');
      if (length > MAX_CONTROL_PAYLOAD)
        return this.#fail(CloseCode.ProtocolError, 'control frame payload over 125 bytes');
      if (rsv1) return this.#fail(CloseCode.ProtocolError, 'RSV1 set on a control frame');
    } else {
      if (opcode > Opcode.Binary)
        return this.#fail(CloseCode.ProtocolError, `reserved data opcode 0x${opcode.toString(16)}`);
      if (opcode === Opcode.Continuation) {
        // §5.4: a continuation frame only continues a message whose first frame had FIN clear.
        if (!this.#inMessage)
          return this.#fail(CloseCode.ProtocolError, 'continuation frame without a message to continue');
        // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message only.
        if (rsv1) return this.#fail(CloseCode.ProtocolError, 'RSV1 set on a continuation frame');
      } else {
        if (this.#inMessage) return this.#fail(CloseCode.ProtocolError, 'new data frame inside a fragmented message');
        if (rsv1 && !this.#allowRsv1) return this.#fail(CloseCode.ProtocolError, 'RSV1 set without permessage-deflate');
        this.#inMessage = true;
        this.#messageBytes = 0;
        this.#fragments = 0;
        this.#compressed = rsv1;
        this.#limit = this.#streamLimit ?? this.#maxMessageSize;
      }
      this.#messageBytes += length;
      this.#fragments++;
      // Deflate can expand incompressible data slightly; the inflater enforces the real limit on the output.
      const limit = this.#compressed ? this.#limit + (this.#limit >>> 7) + 1024 : this.#limit;
      if (this.#messageBytes > limit) {
        return this.#fail(CloseCode.MessageTooBig, `message exceeds the ${this.#limit}-byte limit`);
      }
      if (this.#fragments > this.#maxFragments) {
        return this.#fail(CloseCode.MessageTooBig, `message exceeds ${this.#maxFragments} fragments`);
      }
    }

    this.#opcode = opcode;
    this.#fin = fin;
    this.#remaining = length;
    this.#payloadRead = 0;
    this.#inPayload = true;
    if (opcode >= 0x8) {
      this.#control = length === 0 ? EMPTY : Buffer.allocUnsafe(length);
    } else {
      this.#sink.onDataFrame(opcode, fin, rsv1, length);
    }
    // The sink may have called stop() from onDataFrame; then no frame end follows.
    if (length === 0 && !this.#failed) this.#endFrame();
    return true;
  }

  #readPayload(): boolean {
    if (this.#buffered === 0) return false;
    const chunk = this.#chunks[0]!;
    const n = Math.min(this.#remaining, chunk.length - this.#head);
    const start = this.#head;
    this.#advance(n);
    const key = this.#maskKey;
    if (this.#control) {
      if (key) applyMask(chunk, start, this.#control, this.#payloadRead, n, key, this.#payloadRead);
      else chunk.copy(this.#control, this.#payloadRead, start, start + n);
    } else {
      // Unmasking in place is safe: the parser owns the bytes handed to push().
      if (key) applyMask(chunk, start, chunk, start, n, key, this.#payloadRead);
      this.#sink.onData(chunk.subarray(start, start + n));
    }
    this.#payloadRead += n;
    this.#remaining -= n;
    if (this.#remaining === 0 && !this.#failed) this.#endFrame();
    return true;
  }

  #endFrame(): void {
    this.#inPayload = false;
    if (this.#control) {
      const payload = this.#control;
      this.#control = null;
      this.#sink.onControl(this.#opcode, payload);
      return;
    }
    if (this.#fin) this.#inMessage = false;
    this.#sink.onDataFrameEnd(this.#fin);
  }

  #fail(code: CloseCode, message: string): false {
    this.stop();
    this.#sink.onError(code, message);
    return false;
  }

  #peekByte(index: number): number {
    let i = this.#head + index;
    for (const c of this.#chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    return 0;
  }

  /** Consumes `n` buffered bytes, copying only when they straddle chunks. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(n - filled, c.length - this.#head);
      c.copy(out, filled, this.#head, this.#head + k);
      filled += k;
      this.#advance(k);
    }
    return out;
  }

  #advance(n: number): void {
    this.#head += n;
    this.#buffered -= n;
    if (this.#head === this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}
