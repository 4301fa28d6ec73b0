// A message framed once — and compressed once for every peer that can share the bytes — then written to many
// connections (gorilla's PreparedMessage; RFC 7692 §7.1.1: only a sender without context takeover can share).
import { isUtf8 } from 'node:buffer';
import type { PerMessageDeflate } from '../extensions/permessage-deflate.js';
import { Opcode } from '../protocol/constants.js';
import { encodeFrame } from '../protocol/frame-encoder.js';
import type { MessageType } from './types.js';

/** The options of `new PreparedMessage(data, options)`. */
export interface PreparedMessageOptions {
  /** Send a string as binary, or a Buffer as text (it must then be valid UTF-8). Default: string → text. */
  binary?: boolean;
}

/** What the send queue reads of a prepared message (not part of the public API). */
interface Variants {
  plain: Buffer | null;
  /** One compressed frame per PerMessageDeflate#shareKey, or its pending compression. */
  compressed: Map<string, Buffer | Promise<Buffer>> | null;
}

interface Counts {
  frames: number;
  compressions: number;
}

let variantsOf: (pm: PreparedMessage) => Variants;
let countOf: (pm: PreparedMessage) => Counts;

/**
 * `new PreparedMessage(data)` then `conn.sendPrepared(pm)` for each of many connections: the frame is built on first
 * use and the same bytes go to every peer; for compressed peers that share one set of parameters and have no context
 * takeover (the server's `compression: 'shared'`), the payload is compressed once. Peers that need their own bytes
 * (client connections mask every frame; context takeover compresses per connection) get the message sent normally.
 * The payload is not copied: leave a Buffer unchanged while the message is in use.
 */
export class PreparedMessage {
  /** Whether it goes out as a text or a binary message. */
  readonly type: MessageType;
  /** The payload's bytes (a string is encoded as UTF-8 once, here). */
  readonly data: Buffer;
  readonly #variants: Variants = { plain: null, compressed: null };
  readonly #counts: Counts = { frames: 0, compressions: 0 };

  static {
    variantsOf = (pm) => pm.#variants;
    countOf = (pm) => pm.#counts;
  }

  constructor(data: string | Buffer | ArrayBufferView | ArrayBuffer, options: PreparedMessageOptions = {}) {
    if (typeof data === 'string') {
      this.type = options.binary ? 'binary' : 'text';
      this.data = Buffer.from(data);
    } else {
      this.data = toBuffer(data);
      this.type = options.binary === false ? 'text' : 'binary';
      // RFC 6455 §8.1: a text frame we send must hold UTF-8; catching it here keeps one bad publish from failing
      // every subscriber's connection with 1007.
      if (this.type === 'text' && !isUtf8(this.data)) throw new TypeError('a text message must be valid UTF-8');
    }
  }

  /** The payload's length in bytes. */
  get size(): number {
    return this.data.length;
  }

  /** Frames built so far: one per variant (plain, and each shared compression), however many peers got them. */
  get framesEncoded(): number {
    return this.#counts.frames;
  }

  /** Compressions made so far (each shared by every peer of one set of parameters). */
  get compressions(): number {
    return this.#counts.compressions;
  }
}

/** The plain (unmasked, uncompressed) frame of `pm`, built once: for the send queue only, never the public API. */
export function plainFrameOf(pm: PreparedMessage): Buffer {
  const v = variantsOf(pm);
  if (v.plain === null) {
    v.plain = encodeFrame(opcodeOf(pm), pm.data, true, false, null);
    countOf(pm).frames++;
  }
  return v.plain;
}

/** The compressed frame of `pm` for peers sharing `deflate.shareKey`, built (or being built) once. */
export function compressedFrameOf(pm: PreparedMessage, deflate: PerMessageDeflate): Buffer | Promise<Buffer> {
  const v = variantsOf(pm);
  const key = deflate.shareKey!;
  v.compressed ??= new Map();
  const known = v.compressed.get(key);
  if (known !== undefined) return known;
  const counts = countOf(pm);
  counts.compressions++;
  const build = (payload: Buffer): Buffer => {
    counts.frames++;
    const frame = encodeFrame(opcodeOf(pm), payload, true, true, null);
    v.compressed!.set(key, frame);
    return frame;
  };
  const payload = deflate.compressStateless(pm.data);
  const frame = Buffer.isBuffer(payload) ? build(payload) : payload.then(build);
  v.compressed.set(key, frame);
  return frame;
}

function opcodeOf(pm: PreparedMessage): number {
  return pm.type === 'text' ? Opcode.Text : Opcode.Binary;
}

export function toBuffer(data: Buffer | ArrayBufferView | ArrayBuffer): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
