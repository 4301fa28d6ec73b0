// Reassembles data frames into messages (RFC 6455 §5.4, §5.6, §8.1; RFC 7692 §6.2): UTF-8 checked as the bytes
// arrive, compressed messages inflated as their fragments arrive (inflation.ts), or one message streamed to a reader
// claimed with nextReader().
import type { ProtocolErrorCode } from '../errors.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import { isValidUtf8, Utf8Validator } from '../protocol/utf8.js';
import { Inflation, type InflationHost } from './inflation.js';
import { PayloadBuffer } from './payload-buffer.js';
import { JOIN_SLICE, joinInSlices } from './sliced-join.js';
import { type IncomingStream, MessageReader, type PausableSource } from './streams.js';
import type { Message, MessageType } from './types.js';

/** What the assembler needs of its connection. */
export interface AssemblerHost {
  /** A complete message (not for streamed ones). */
  onMessage(msg: Message): void;
  /** A message handed to a reader has ended (for counting). */
  onStreamed(): void;
  fail(code: CloseCode, message: string, errorCode?: ProtocolErrorCode): void;
  /** The application's code threw while taking a streamed message's bytes (a reader's 'data' listener). */
  handlerFailed(err: unknown): void;
  /** Raises or restores the parser's size limit for the next message (streamed messages may be larger). */
  setStreamLimit(limit: number | null): void;
  /** Stops the parser after the current event: a compressed message needs more inflating first. */
  haltInput(): void;
  /** Parses on after haltInput(). */
  resumeInput(): void;
  /** False once the connection stopped reading for good. */
  reading(): boolean;
}

/** Pending bytes of a streamed message handed to its reader at once, without waiting for the end of the read. */
const STREAM_FLUSH = 16 * 1024;

interface PendingReader {
  claim: (reader: MessageReader) => void;
  reject: (err: Error) => void;
  maxSize: number | null;
}

export class MessageAssembler {
  readonly #host: AssemblerHost;
  readonly #connection: PausableSource;
  /** What a streamed message's reader pauses and resumes: made with the first reader, since most connections have none. */
  #source: PausableSource | null = null;
  readonly #maxMessageSize: number;
  readonly #deflate: PerMessageDeflate | null;
  /** Made on the first compressed message (the parser lets RSV1 through only when deflate was negotiated). */
  #inflation: Inflation | null = null;
  #type: MessageType = 'binary';
  #compressed = false;
  /**
   * The message's bytes so far (inflated, when compressed); for a streamed one, bytes not yet handed to the reader.
   * Made with the first message: an idle connection holds none.
   */
  #buffer: PayloadBuffer | null = null;
  #frameLength = 0;
  /** Payload bytes of the current frame still to come, and whether the frame ends the message. */
  #frameLeft = 0;
  #fin = false;
  #validator: Utf8Validator | null = null;
  #validating = false;
  #stream: MessageReader | null = null;
  #readers: PendingReader[] | null = null;
  /** A complete message's pieces are being joined (sliced-join.ts): the parser stays halted until it is delivered. */
  #joining = false;

  constructor(host: AssemblerHost, source: PausableSource, deflate: PerMessageDeflate | null, maxMessageSize: number) {
    this.#host = host;
    this.#connection = source;
    this.#maxMessageSize = maxMessageSize;
    this.#deflate = deflate;
  }

  get #payload(): PayloadBuffer {
    this.#buffer ??= new PayloadBuffer();
    return this.#buffer;
  }

  onDataFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void {
    this.#frameLength = length;
    this.#frameLeft = length;
    this.#fin = fin;
    if (opcode === Opcode.Continuation) return;
    this.#type = opcode === Opcode.Text ? 'text' : 'binary';
    this.#compressed = rsv1;
    const next = this.#readers?.shift();
    // A whole uncompressed text frame is checked once at its end by the native validator; anything that arrives in
    // pieces — a fragmented or streamed message, or inflated output — is checked incrementally so that invalid UTF-8
    // fails fast (Autobahn 6.4.x).
    this.#validating = this.#type === 'text' && (rsv1 || !fin || next !== undefined);
    if (this.#validating) this.#resetValidator();
    if (next) {
      this.#host.setStreamLimit(this.#readers?.[0]?.maxSize ?? null);
      // A reader that lags pauses the socket, and when it asks for more, a compressed message resumes inflating.
      this.#source ??= {
        pause: () => this.#connection.pause(),
        resume: () => {
          this.#connection.resume();
          this.#inflation?.kick();
        },
      };
      const reader = new MessageReader(this.#type, this.#source);
      this.#stream = reader;
      next.claim(reader);
    }
    // RFC 7692 §7.2.2: the limit applies to the inflated bytes, the message's size as the application sees it.
    if (rsv1) {
      this.#inflation ??= new Inflation(this.#deflate!, this.#inflationHost());
      this.#inflation.begin(next?.maxSize ?? this.#maxMessageSize);
    }
  }

  onData(chunk: Buffer): void {
    this.#frameLeft -= chunk.length;
    if (this.#compressed) {
      // The parser ends the frame right after its last byte: the message's end is known before inflating starts.
      this.#inflation!.push(chunk, this.#fin && this.#frameLeft === 0);
      return;
    }
    if (this.#type === 'text') {
      if (!this.#validating && chunk.length !== this.#frameLength) {
        this.#validating = true;
        this.#resetValidator();
      }
      if (this.#validating && !this.#validate(chunk)) return;
    }
    this.#accept(chunk);
  }

  onDataFrameEnd(fin: boolean): void {
    if (this.#compressed) {
      if (fin) this.#inflation!.end();
      return;
    }
    if (!fin) {
      this.#payload.settle();
      return;
    }
    this.#complete();
  }

  /**
   * Hands a streamed message's pending bytes to its reader (the connection calls this at the end of each read).
   * The reader's listeners run inside push(): one that throws is the application's failure (1011, as a throwing
   * 'message' listener), not the peer's, so it neither escapes the socket's 'data' event nor reads as corrupt input
   * to the inflater. False when that happened.
   */
  flushStream(): boolean {
    if (!this.#stream || this.#payload.empty) return true;
    try {
      this.#stream.pushChunk(this.#payload.take());
      return true;
    } catch (err) {
      this.#host.handlerFailed(err);
      return false;
    }
  }

  /** Queues a claim on the next message; `maxSize` (null: the normal limit) applies to that message only. */
  claimNext(claim: (reader: MessageReader) => void, reject: (err: Error) => void, maxSize: number | null): void {
    this.#readers ??= [];
    this.#readers.push({ claim, reject, maxSize });
    // The limit must be in place before the message's first header is parsed: the parser checks it there.
    this.#host.setStreamLimit(this.#readers[0]!.maxSize);
  }

  /** True while a message is being streamed or a claim waits for one. */
  get hasReaders(): boolean {
    return this.#stream !== null || (this.#readers?.length ?? 0) > 0;
  }

  /** The connection closed: the message being streamed ends with this error, and waiting claims are rejected. */
  abort(err: Error): void {
    this.#stream?.abort(err);
    this.#stream = null;
    for (const pending of this.#readers?.splice(0) ?? []) pending.reject(err);
  }

  /** Message bytes (as received, or inflated) that passed validation; false when the reader's consumer threw. */
  #accept(chunk: Buffer): boolean {
    this.#payload.push(chunk);
    // A streamed message's bytes are handed over at the end of each read (or 16 KiB): tiny fragments reach the
    // reader coalesced, never as one Buffer each.
    return !(this.#stream && this.#payload.size >= STREAM_FLUSH) || this.flushStream();
  }

  #validate(chunk: Buffer): boolean {
    if (this.#validator!.push(chunk)) return true;
    this.#host.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message');
    return false;
  }

  #complete(): void {
    const stream = this.#stream;
    if (stream) {
      if (this.#type === 'text' && !this.#validator!.end()) {
        this.#host.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message');
        return;
      }
      if (!this.flushStream()) return;
      this.#stream = null;
      stream.finish();
      this.#host.onStreamed();
      return;
    }
    if (this.#payload.size <= JOIN_SLICE) {
      this.#deliver(this.#payload.take());
      return;
    }
    const size = this.#payload.size;
    const parts = this.#payload.takeParts();
    if (parts.length === 1) {
      this.#deliver(parts[0]!);
      return;
    }
    // A large message in many pieces is joined over several turns; the parser waits, so the next message cannot
    // overtake it.
    this.#joining = true;
    this.#host.haltInput();
    joinInSlices(
      parts,
      size,
      () => this.#host.reading(),
      (data) => {
        this.#joining = false;
        this.#deliver(data);
        if (this.#host.reading()) this.#host.resumeInput();
      },
    );
  }

  /** Hands a whole message to the connection, once its text (if not checked as it arrived) is valid UTF-8. */
  #deliver(data: Buffer): void {
    if (this.#type === 'text' && !(this.#validating ? this.#validator!.end() : isValidUtf8(data))) {
      this.#host.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message');
      return;
    }
    this.#host.onMessage(
      this.#type === 'text' ? { type: 'text', data: data.toString('utf8') } : { type: 'binary', data },
    );
  }

  #inflationHost(): InflationHost {
    const host = this.#host;
    return {
      halt: () => host.haltInput(),
      // A message still being joined resumes the parser itself once it is delivered.
      resumeInput: () => {
        if (!this.#joining) host.resumeInput();
      },
      fail: (code, message, errorCode) => host.fail(code, message, errorCode),
      reading: () => host.reading(),
      output: (chunk) => {
        if (this.#type === 'text' && !this.#validate(chunk)) return false;
        return this.#accept(chunk);
      },
      done: () => this.#complete(),
      saturated: () => (this.#stream as IncomingStream | null)?.saturated === true,
    };
  }

  #resetValidator(): void {
    this.#validator ??= new Utf8Validator();
    this.#validator.reset();
  }
}
