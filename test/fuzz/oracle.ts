// The fuzzer's reference model of a receiving endpoint (RFC 6455 §5–§8, RFC 7692 §6–§7): given the exact bytes a peer
// sent, it lists every outcome a correct endpoint may produce. Written apart from src/ on purpose (its own header
// parsing, WHATWG TextDecoder for UTF-8, a single continuous zlib stream for inflation) so it can check the library.
import { constants as zc, inflateRawSync } from 'node:zlib';

export interface OracleConfig {
  /** true for a server (every frame must be masked, §5.1), false for a client (none may be). */
  expectMasked: boolean;
  /** permessage-deflate negotiated; `peerContextTakeover`: the peer's messages share one LZ77 stream (§7.1.1). */
  deflate: { peerContextTakeover: boolean } | null;
  maxMessageSize: number;
  maxFragments: number;
  /**
   * The peer's compressed bytes were tampered with (flipped bytes): damaged deflate data may still inflate, and then
   * to content that depends on how the receiver frames the stream (per message with a dictionary, or one continuous
   * stream), so compressed messages are only checked for their type, and each may also end in 1007 or 1009.
   */
  tamperedDeflate?: boolean;
}

export interface ExpectedMessage {
  type: 'text' | 'binary';
  /** null: any content (see tamperedDeflate). */
  data: Buffer | null;
}

export type Ending =
  /** The peer's close frame (code null: no status); the endpoint echoes it. */
  | { kind: 'close'; code: number | null; reason: string }
  /** The endpoint fails the connection with this code (§7.1.7). */
  | { kind: 'fail'; code: number }
  /** The bytes ran out with neither side closing: the peer's FIN or RST decides. */
  | { kind: 'eof' };

export interface Outcome {
  messages: ExpectedMessage[];
  /** Payloads of the pings answered, in order. */
  pongs: Buffer[];
  ending: Ending;
  /** Byte offset just past the frame that decided the ending (for eof: the stream length). */
  decidedAt: number;
}

const CONTROL_MAX = 125;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function isValidCloseCode(code: number): boolean {
  // §7.4.1 and the IANA registry: 1004–1006 and 1015 never travel; 1016–2999 are unassigned; 3000–4999 are open.
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

function utf8PrefixValid(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

function utf8Valid(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

interface State {
  pos: number;
  messages: ExpectedMessage[];
  pongs: Buffer[];
  inMessage: boolean;
  type: 'text' | 'binary';
  compressed: boolean;
  parts: Buffer[];
  declaredBytes: number;
  fragments: number;
  /** Text already known invalid under the lazy reading (the endpoint may fail at the end of the message). */
  badText: boolean;
  /** The peer's compressed payloads so far (each with its tail), for the continuous reference inflater. */
  stream: Buffer[];
  streamOut: number;
}

function clone(s: State): State {
  return { ...s, messages: [...s.messages], pongs: [...s.pongs], parts: [...s.parts], stream: [...s.stream] };
}

type Inflated = { kind: 'ok'; data: Buffer } | { kind: 'too-big' } | { kind: 'corrupt' };

/** Inflates `input` (payloads of this message, after the earlier ones when the peer takes context over). */
function referenceInflate(s: State, input: Buffer[], cfg: OracleConfig): Inflated {
  const carry = cfg.deflate?.peerContextTakeover ?? false;
  const before = carry ? s.streamOut : 0;
  let out: Buffer;
  try {
    out = inflateRawSync(Buffer.concat(carry ? [...s.stream, ...input] : input), {
      finishFlush: zc.Z_SYNC_FLUSH,
      maxOutputLength: before + cfg.maxMessageSize + 1,
    });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? { kind: 'too-big' } : { kind: 'corrupt' };
  }
  if (out.length - before > cfg.maxMessageSize) return { kind: 'too-big' };
  return { kind: 'ok', data: out.subarray(before) };
}

/**
 * True when this message's compressed bytes stop inside a deflate block: a final empty fixed block appended after
 * the sync-flush tail then does not end the stream cleanly.
 */
function endsMidBlock(s: State, cfg: OracleConfig): boolean {
  const carry = cfg.deflate?.peerContextTakeover ?? false;
  try {
    inflateRawSync(Buffer.concat([...(carry ? s.stream : []), ...s.parts, TAIL, FINAL_EMPTY_BLOCK]), {
      finishFlush: zc.Z_FINISH,
      maxOutputLength: (carry ? s.streamOut : 0) + cfg.maxMessageSize + 1,
    });
    return false;
  } catch {
    return true;
  }
}

/** An empty fixed-Huffman block with BFINAL set: it ends a stream that is at a block boundary. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * For a compressed text message that inflates past the limit: whether the bytes up to the limit already hold invalid
 * UTF-8. zlib gives no partial output past maxOutputLength, so the longest input prefix that stays under the limit is
 * found by bisection (the output of a prefix is a prefix of the output).
 */
function tooBigTextInvalid(s: State, input: Buffer[], cfg: OracleConfig): boolean {
  const carry = cfg.deflate?.peerContextTakeover ?? false;
  const before = carry ? s.streamOut : 0;
  const head = carry ? Buffer.concat(s.stream) : Buffer.alloc(0);
  const mine = Buffer.concat(input);
  const inflatePrefix = (k: number): Buffer | null => {
    try {
      return inflateRawSync(Buffer.concat([head, mine.subarray(0, k)]), {
        finishFlush: zc.Z_SYNC_FLUSH,
        maxOutputLength: before + cfg.maxMessageSize + 1,
      }).subarray(before);
    } catch {
      return null;
    }
  };
  let lo = 0;
  let hi = mine.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (inflatePrefix(mid) === null) hi = mid - 1;
    else lo = mid;
  }
  const out = inflatePrefix(lo);
  return out !== null && !utf8PrefixValid(out.subarray(0, cfg.maxMessageSize));
}

/** The code a compressed message in progress is already doomed to (null: nothing wrong seen yet). */
function compressedFate(s: State, cfg: OracleConfig): number | null {
  const r = referenceInflate(s, s.parts, cfg);
  if (r.kind === 'too-big') {
    // Too big and not UTF-8: both rules are broken, and an inflater that checks text as it goes sees the bad byte first.
    if (s.type === 'text' && tooBigTextInvalid(s, s.parts, cfg)) return 1007;
    return 1009;
  }
  if (r.kind === 'corrupt') return 1007;
  return s.type === 'text' && !utf8PrefixValid(r.data) ? 1007 : null;
}

/**
 * Every acceptable outcome of receiving `bytes`, then the end of the stream. Where RFC 6455 leaves a choice the
 * outcomes branch: invalid UTF-8 may fail at the frame that shows it or at the end of the message (§8.1 sets no
 * moment); a non-minimal length encoding may be accepted or failed with 1002 (§5.2 binds the sender only); a
 * compressed message that fails (bad deflate data, too big, bad UTF-8) may fail at any of its frames, as a streaming
 * inflater would; a frame breaking two rules may report either code.
 */
export function expectedOutcomes(bytes: Buffer, cfg: OracleConfig): Outcome[] {
  const out: Outcome[] = [];
  const seen = new Set<string>();
  const emit: Emit = (s, ending, at) => {
    const o: Outcome = { messages: s.messages, pongs: s.pongs, ending, decidedAt: at };
    const key = outcomeKey(o);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(o);
    }
  };
  const initial: State = {
    pos: 0,
    messages: [],
    pongs: [],
    inMessage: false,
    type: 'binary',
    compressed: false,
    parts: [],
    declaredBytes: 0,
    fragments: 0,
    badText: false,
    stream: [],
    streamOut: 0,
  };
  walk(bytes, cfg, initial, emit, { budget: 256 });
  return out;
}

/** Records one outcome; returns undefined so that `return emit(...)` ends a walk. */
type Emit = (s: State, ending: Ending, at: number) => undefined;

function walk(bytes: Buffer, cfg: OracleConfig, s: State, emit: Emit, branches: { budget: number }): undefined {
  const fork = (fn: (c: State) => void): void => {
    if (branches.budget-- <= 0) throw new Error('oracle: too many branches (case too ambiguous)');
    fn(clone(s));
  };
  for (;;) {
    const start = s.pos;
    const left = bytes.length - start;
    if (left < 2) return emit(s, { kind: 'eof' }, bytes.length);
    const b0 = bytes[start]!;
    const b1 = bytes[start + 1]!;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const headerSize = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (left < headerSize) return emit(s, { kind: 'eof' }, bytes.length);
    let length: number;
    let msb = false;
    let nonMinimal = false;
    if (len7 === 126) {
      length = bytes.readUInt16BE(start + 2);
      nonMinimal = length < 126;
    } else if (len7 === 127) {
      const big = bytes.readBigUInt64BE(start + 2);
      msb = big >> 63n === 1n;
      length = Number(big & 0x7fff_ffff_ffff_ffffn);
      nonMinimal = big <= 0xffffn;
    } else {
      length = len7;
    }
    const headerEnd = start + headerSize;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const rsv23 = (b0 & 0x30) !== 0;
    const opcode = b0 & 0x0f;
    const control = opcode >= 8;

    // Every rule this header breaks, by the code it calls for.
    const violations = new Set<number>();
    if (rsv23) violations.add(1002);
    if (masked !== cfg.expectMasked) violations.add(1002);
    if (msb) violations.add(1002);
    if (control) {
      if (opcode > 0xa) violations.add(1002);
      if (!fin || length > CONTROL_MAX || rsv1) violations.add(1002);
    } else if (opcode > 2) {
      violations.add(1002);
    } else if (opcode === 0) {
      if (!s.inMessage) violations.add(1002);
      if (rsv1) violations.add(1002);
    } else {
      if (s.inMessage) violations.add(1002);
      if (rsv1 && !cfg.deflate) violations.add(1002);
    }
    const startsMessage = !control && opcode !== 0;
    if (violations.size === 0 && !control) {
      const compressed = startsMessage ? rsv1 : s.compressed;
      const declared = (startsMessage ? 0 : s.declaredBytes) + length;
      const fragments = (startsMessage ? 0 : s.fragments) + 1;
      // A compressed message's wire size says nothing certain about its size inflated: only the inflater decides.
      if (!compressed && declared > cfg.maxMessageSize) violations.add(1009);
      if (fragments > cfg.maxFragments) violations.add(1009);
    }
    if (violations.size > 0) {
      for (const code of violations) emit(s, { kind: 'fail', code }, headerEnd);
      return;
    }
    if (nonMinimal) fork((c) => emit(c, { kind: 'fail', code: 1002 }, headerEnd));
    // A compressed message longer on the wire than the limit is practically never a valid small one (deflate adds
    // ~5 bytes per 16 KiB at worst): failing it at its header is a reasonable policy, not a requirement.
    if (
      !control &&
      (startsMessage ? rsv1 : s.compressed) &&
      (startsMessage ? 0 : s.declaredBytes) + length > cfg.maxMessageSize
    ) {
      fork((c) => emit(c, { kind: 'fail', code: 1009 }, headerEnd));
    }

    const available = Math.min(length, bytes.length - headerEnd);
    const payload = Buffer.from(bytes.subarray(headerEnd, headerEnd + available));
    if (masked) {
      const key = bytes.subarray(headerEnd - 4, headerEnd);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    }
    const complete = available === length;
    s.pos = headerEnd + available;

    if (control) {
      if (!complete) return emit(s, { kind: 'eof' }, bytes.length);
      if (opcode === 0x9) s.pongs.push(payload);
      else if (opcode === 0x8) return closeFrame(s, payload, emit);
      continue;
    }

    if (startsMessage) {
      s.inMessage = true;
      s.type = opcode === 1 ? 'text' : 'binary';
      s.compressed = rsv1;
      s.parts = [];
      s.declaredBytes = 0;
      s.fragments = 0;
      s.badText = false;
    }
    s.declaredBytes += length;
    s.fragments++;
    s.parts.push(payload);
    const here = s.pos;

    if (s.compressed) {
      // A streaming inflater may give up on a doomed message at any of its frames, not only at the last: branch.
      if (!complete || !fin) {
        const fate = compressedFate(s, cfg);
        if (fate !== null) fork((c) => emit(c, { kind: 'fail', code: fate }, here));
        // Tampered deflate data may be judged differently by two inflaters at any point: either verdict, any frame.
        if (cfg.tamperedDeflate) {
          for (const code of [1007, 1009]) if (code !== fate) fork((c) => emit(c, { kind: 'fail', code }, here));
        }
        if (!complete) return emit(s, { kind: 'eof' }, bytes.length);
        continue;
      }
      const r = referenceInflate(s, [...s.parts, TAIL], cfg);
      s.inMessage = false;
      if (cfg.tamperedDeflate) {
        fork((c) => emit(c, { kind: 'fail', code: 1007 }, here));
        fork((c) => emit(c, { kind: 'fail', code: 1009 }, here));
        if (cfg.deflate?.peerContextTakeover && r.kind === 'ok') {
          s.stream.push(...s.parts, TAIL);
          s.streamOut += r.data.length;
        }
        s.messages.push({ type: s.type, data: null });
        continue;
      }
      if (r.kind === 'corrupt') return emit(s, { kind: 'fail', code: 1007 }, here);
      if (r.kind === 'too-big') {
        if (s.type === 'text' && tooBigTextInvalid(s, s.parts, cfg))
          fork((c) => emit(c, { kind: 'fail', code: 1007 }, here));
        return emit(s, { kind: 'fail', code: 1009 }, here);
      }
      // Data cut off in the middle of a deflate block: zlib hands out what it decoded so far, a strict inflater calls
      // it invalid (RFC 7692 §7.2.2 expects whole blocks up to the sync flush). Either is accepted.
      if (endsMidBlock(s, cfg)) fork((c) => emit(c, { kind: 'fail', code: 1007 }, here));
      if (s.type === 'text' && !utf8Valid(r.data)) return emit(s, { kind: 'fail', code: 1007 }, here);
      if (cfg.deflate?.peerContextTakeover) {
        s.stream.push(...s.parts, TAIL);
        s.streamOut += r.data.length;
      }
      s.messages.push({ type: s.type, data: Buffer.from(r.data) });
      continue;
    }

    if (s.type === 'text' && !s.badText) {
      const sofar = Buffer.concat(s.parts);
      const invalidNow = !utf8PrefixValid(sofar) || (complete && fin && !utf8Valid(sofar));
      if (invalidNow) {
        // Eager: fail at this frame. Lazy: carry on and fail at the end of the message (if nothing else ends it).
        fork((c) => emit(c, { kind: 'fail', code: 1007 }, here));
        s.badText = true;
      }
    }
    if (!complete) return emit(s, { kind: 'eof' }, bytes.length);
    if (!fin) continue;
    s.inMessage = false;
    if (s.badText) return emit(s, { kind: 'fail', code: 1007 }, here);
    s.messages.push({ type: s.type, data: Buffer.concat(s.parts) });
  }
}

function closeFrame(s: State, payload: Buffer, emit: Emit): undefined {
  const at = s.pos;
  if (payload.length === 0) return emit(s, { kind: 'close', code: null, reason: '' }, at);
  if (payload.length === 1) return emit(s, { kind: 'fail', code: 1002 }, at);
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) return emit(s, { kind: 'fail', code: 1002 }, at);
  const reason = payload.subarray(2);
  if (!utf8Valid(reason)) return emit(s, { kind: 'fail', code: 1007 }, at);
  return emit(s, { kind: 'close', code, reason: reason.toString('utf8') }, at);
}

export function describeEnding(e: Ending): string {
  if (e.kind === 'close') return `peer close ${e.code ?? '(no status)'}`;
  if (e.kind === 'fail') return `fail ${e.code}`;
  return 'end of stream';
}

function outcomeKey(o: Outcome): string {
  // Counts first: an empty message or pong would otherwise vanish from a joined key.
  const msgs = o.messages.map((m) => `${m.type}:${m.data?.toString('hex') ?? '*'}`).join(',');
  const pongs = o.pongs.map((p) => p.toString('hex')).join(',');
  const ending = o.ending.kind === 'close' ? `close:${o.ending.code}:${o.ending.reason}` : describeEnding(o.ending);
  return `${o.messages.length}:${msgs}|${o.pongs.length}:${pongs}|${ending}`;
}
