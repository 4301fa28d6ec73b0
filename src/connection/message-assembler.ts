// Reassembles data frames into messages (RFC 6455 §5.4, §5.6, §8.1; RFC 7692 §6.2): UTF-8 checked as the bytes
// arrive, compressed messages inflated at their end, or one message streamed to a reader claimed with nextReader().
import { ProtocolError } from '../errors.js';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { CloseCode, EMPTY, Opcode } from '../protocol/constants.js';
import { isValidUtf8, Utf8Validator } from '../protocol/utf8.js';
import { PayloadBuffer } from './payload-buffer.js';
import { type IncomingStream, MessageReader, type PausableSource } from './streams.js';
import type { Message, MessageType } from './types.js';

/** What the assembler needs of its connection. */
export interface AssemblerHost {
  /** A complete message (not for streamed ones). */
  onMessage(msg: Message): void;
  /** A message handed to a reader has ended (for counting). */
  onStreamed(): void;
  fail(code: CloseCode, message: string): void;
  /** Raises or restores the parser's size limit for the next message (streamed messages may be larger). */
  setStreamLimit(limit: number | null): void;
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
  readonly #source: PausableSource;
  readonly #deflate: PerMessageDeflate | null;
  readonly #maxMessageSize: number;
  #type: MessageType = 'binary';
  #compressed = false;
  /** The message's bytes so far; for a streamed message, bytes not yet handed to the reader (see flushStream). */
  readonly #payload = new PayloadBuffer();
  #frameLength = 0;
  #validator: Utf8Validator | null = null;
  #validating = false;
  #stream: IncomingStream | null = null;
  #readers: PendingReader[] | null = null;

  constructor(host: AssemblerHost, source: PausableSource, deflate: PerMessageDeflate | null, maxMessageSize: number) {
    this.#host = host;
    this.#source = source;
    this.#deflate = deflate;
    this.#maxMessageSize = maxMessageSize;
  }

  onDataFrame(opcode: number, fin: boolean, rsv1: boolean, length: number): void {
    this.#frameLength = length;
    if (opcode === Opcode.Continuation) return;
    this.#type = opcode === Opcode.Text ? 'text' : 'binary';
    this.#compressed = rsv1;
    const next = this.#readers?.shift();
    // A whole uncompressed text frame is checked once at its end by the native validator; anything that arrives in
    // pieces is checked incrementally so that invalid UTF-8 fails fast (Autobahn 6.4.x). A streamed message's bytes
    // go to the reader as they arrive, so they are validated as they arrive too.
    this.#validating = this.#type === 'text' && !rsv1 && (!fin || next !== undefined);
    if (this.#validating) this.#resetValidator();
    if (next) {
      this.#host.setStreamLimit(this.#readers?.[0]?.maxSize ?? null);
      const reader = new MessageReader(this.#type, this.#source);
      this.#stream = reader;
      next.claim(reader);
    }
  }

  onData(chunk: Buffer): void {
    if (this.#type === 'text' && !this.#compressed) {
      if (!this.#validating && chunk.length !== this.#frameLength) {
        this.#validating = true;
        this.#resetValidator();
      }
      if (this.#validating && !this.#validator!.push(chunk)) {
        this.#host.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message');
        return;
      }
    }
    this.#payload.push(chunk);
    // A streamed message's bytes are handed over at the end of each read (or 16 KiB): tiny fragments reach the
    // reader coalesced, never as one Buffer each.
    if (this.#stream && !this.#compressed && this.#payload.size >= STREAM_FLUSH) this.flushStream();
  }

  /** Hands a streamed message's pending bytes to its reader (the connection calls this at the end of each read). */
  flushStream(): void {
    if (this.#stream && !this.#compressed && !this.#payload.empty) this.#stream.pushChunk(this.#payload.take());
  }

  onDataFrameEnd(fin: boolean): void {
    if (!fin) {
      this.#payload.settle();
      return;
    }
    let data: Buffer;
    if (this.#compressed) {
      try {
        data = this.#deflate!.decompress(this.#payload.takeParts(), this.#maxMessageSize);
      } catch (err) {
        const code = err instanceof ProtocolError ? err.closeCode : CloseCode.InvalidPayload;
        this.#host.fail(code, err instanceof Error ? err.message : 'inflate failed');
        return;
      }
    } else if (this.#stream) {
      this.flushStream();
      data = EMPTY;
    } else {
      data = this.#payload.take();
    }
    if (this.#type === 'text') {
      const ok = this.#validating ? this.#validator!.end() : isValidUtf8(data);
      if (!ok) {
        this.#host.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message');
        return;
      }
    }
    const stream = this.#stream;
    if (stream) {
      this.#stream = null;
      if (this.#compressed && data.length > 0) stream.pushChunk(data);
      stream.finish();
      this.#host.onStreamed();
      return;
    }
    this.#host.onMessage(
      this.#type === 'text' ? { type: 'text', data: data.toString('utf8') } : { type: 'binary', data },
    );
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

  #resetValidator(): void {
    this.#validator ??= new Utf8Validator();
    this.#validator.reset();
  }
}
