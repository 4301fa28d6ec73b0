// permessage-deflate configuration and parameter negotiation, both roles: RFC 7692 §5 (negotiation) and §7.1
// (the four extension parameters). Pure functions over header strings; the runtime lives in permessage-deflate.ts.
import { HandshakeError } from '../errors.js';
import { type ExtensionParam, formatExtension, parseExtensions } from '../handshake/extension-header.js';
import { checkKeys, intOption } from '../validate.js';

export const EXTENSION_NAME = 'permessage-deflate';

/**
 * `'shared'`: the server compresses without context takeover, so one compressed payload (see `PerMessageDeflate#compressStateless`) can be
 * written to every peer. `'dedicated'`: context takeover both ways, best ratio, one retained window per direction.
 */
export type CompressionMode = 'shared' | 'dedicated';

/**
 * permessage-deflate (RFC 7692) in detail, for the `compression` option; every field is optional. The RFC's
 * no-context-takeover parameters follow from `mode`.
 */
export interface CompressionConfig {
  /** `'shared'` or `'dedicated'` (the default for an object): see {@link CompressionMode}. */
  mode?: CompressionMode;
  /** Largest LZ77 window (log2) the server may compress with, 8..15. Below 15 it is always sent in negotiation. */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window (log2) the client may compress with, 8..15. */
  clientMaxWindowBits?: number;
  /**
   * zlib level 0..9; default 6, as ws. Level 1 cost 20 % less server CPU per compressed 2 KiB JSON echo and sent 19 %
   * more bytes (bench/README.md); 0 sends stored blocks.
   */
  level?: number;
  /** zlib memLevel 1..9; default 8. */
  memLevel?: number;
  /** Messages shorter than this many bytes are sent uncompressed (RSV1 clear); default 1024. */
  threshold?: number;
}

/**
 * The `compression` option of a server or of connect(): `false` (the default: no permessage-deflate), a
 * {@link CompressionMode}, or a {@link CompressionConfig} with its parameters.
 */
export type CompressionOption = false | CompressionMode | CompressionConfig;

export interface ResolvedCompression {
  readonly mode: CompressionMode;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
  readonly level: number;
  readonly memLevel: number;
  readonly threshold: number;
}

/** The agreed parameters (RFC 7692 §5): what each direction's compressor may do. Window bits default to 15. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** An object config without `mode` gets the RFC's own default: context takeover both ways. */
export const DEFAULT_COMPRESSION_MODE: CompressionMode = 'dedicated';
export const DEFAULT_MAX_WINDOW_BITS = 15;
export const MIN_WINDOW_BITS = 8;
/** zlib's own default (Z_DEFAULT_COMPRESSION maps to 6). */
export const DEFAULT_COMPRESSION_LEVEL = 6;
export const DEFAULT_MEM_LEVEL = 8;
/**
 * Messages shorter than this go out uncompressed. Chosen by measurement (bench/threshold-micro.ts and the
 * deflate-out-* workloads, see bench/README.md): our compress() has a fixed cost of ~20 µs with context takeover
 * (zlib set-up and priming the 8 KiB window as a dictionary) and ~6 µs without, against ~6 µs for a whole small echo
 * sent raw, while the bytes saved grow with the size: 25 B at 32 B, 200 B at 256 B, 860 B at 1 KiB. Below 1 KiB a
 * frame fits in one TCP segment either way, so the saving buys no latency and compressing multiplies the server's
 * CPU per message by 3–5; without context takeover messages under ~64 B even grow. 1 KiB is also ws's default, so
 * a peer sees the same behaviour from both (ws applies it only without context takeover; we apply it always).
 */
export const DEFAULT_COMPRESSION_THRESHOLD = 1024;

const CONFIG_KEYS = new Set(['mode', 'serverMaxWindowBits', 'clientMaxWindowBits', 'level', 'memLevel', 'threshold']);

function intParam(cfg: CompressionConfig, key: keyof CompressionConfig, min: number, max: number, dflt: number) {
  return intOption(`compression.${key}`, cfg[key], dflt, min, max);
}

/** Validates a compression option at once (TypeError/RangeError) and fills defaults; `false`/undefined → null. */
export function resolveCompression(opt: CompressionOption | undefined): ResolvedCompression | null {
  if (opt === false || opt === undefined) return null;
  if (opt === 'shared' || opt === 'dedicated') opt = { mode: opt };
  if (typeof opt !== 'object' || opt === null) {
    throw new TypeError(`compression must be false, 'shared', 'dedicated' or an object, got ${JSON.stringify(opt)}`);
  }
  checkKeys('compression', opt, CONFIG_KEYS);
  const mode = opt.mode ?? DEFAULT_COMPRESSION_MODE;
  if (mode !== 'shared' && mode !== 'dedicated') {
    throw new TypeError(`compression.mode must be 'shared' or 'dedicated', got ${JSON.stringify(mode)}`);
  }
  return {
    mode,
    serverMaxWindowBits: intParam(opt, 'serverMaxWindowBits', MIN_WINDOW_BITS, 15, DEFAULT_MAX_WINDOW_BITS),
    clientMaxWindowBits: intParam(opt, 'clientMaxWindowBits', MIN_WINDOW_BITS, 15, DEFAULT_MAX_WINDOW_BITS),
    level: intParam(opt, 'level', 0, 9, DEFAULT_COMPRESSION_LEVEL),
    memLevel: intParam(opt, 'memLevel', 1, 9, DEFAULT_MEM_LEVEL),
    threshold: intParam(opt, 'threshold', 0, Number.MAX_SAFE_INTEGER, DEFAULT_COMPRESSION_THRESHOLD),
  };
}

// RFC 7692 §7.1.2.1/§7.1.2.2: a window-bits value is "a decimal integer value without leading zeroes between 8 to 15".
function windowBits(value: string | true): number | null {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

interface Offer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** true: offered without a value (the client merely supports the parameter in a response). */
  clientMaxWindowBits: number | true | undefined;
}

/** Reads one offer's params; a string is the reason to decline it. */
function readOffer(params: readonly ExtensionParam[]): Offer | string {
  const offer: Offer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    // §7: "the offer contains multiple extension parameters with the same name" → decline.
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // §7.1.1.1/§7.1.1.2: "This extension parameter has no value."
        if (value !== true) return `${name} must not have a value`;
        if (name === 'server_no_context_takeover') offer.serverNoContextTakeover = true;
        else offer.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // §7.1.2.1: in an offer it MUST have a value in 8..15.
        const bits = windowBits(value);
        if (bits === null) return `invalid server_max_window_bits ${JSON.stringify(value)}`;
        offer.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // §7.1.2.2: in an offer it may have no value; if it has one, the value is in 8..15.
        const bits = value === true ? true : windowBits(value);
        if (bits === null) return `invalid client_max_window_bits ${JSON.stringify(value)}`;
        offer.clientMaxWindowBits = bits;
        break;
      }
      default:
        // §7: "the offer contains an extension parameter not defined for use in an offer" → decline.
        return `unknown parameter ${name}`;
    }
  }
  return offer;
}

/**
 * Server side of RFC 7692 §5: picks the first acceptable permessage-deflate offer and builds the response; invalid
 * offers are declined (skipped), as §7 asks. Returns null when nothing is acceptable. A header that does not parse at
 * all also yields null rather than a failed handshake: compression is optional, so the connection is still useful
 * without it and a sloppy proxy or client should not cost the user the WebSocket.
 */
export function negotiateServer(
  header: string | undefined,
  cfg: ResolvedCompression,
): { params: DeflateParams; response: string } | null {
  if (header === undefined) return null;
  let offers: ReturnType<typeof parseExtensions>;
  try {
    offers = parseExtensions(header);
  } catch {
    return null;
  }
  for (const { name, params } of offers) {
    if (name.toLowerCase() !== EXTENSION_NAME) continue;
    const offer = readOffer(params);
    if (typeof offer === 'string') continue;
    const accepted = acceptOffer(offer, cfg);
    if (accepted !== null) return accepted;
  }
  return null;
}

function acceptOffer(offer: Offer, cfg: ResolvedCompression): { params: DeflateParams; response: string } | null {
  // §7.1.2.2: "If a received extension negotiation offer doesn't have the client_max_window_bits extension parameter,
  // the corresponding extension negotiation response to the offer MUST NOT include the client_max_window_bits
  // extension parameter." We cannot impose a configured limit then, so decline rather than ignore the config.
  if (offer.clientMaxWindowBits === undefined && cfg.clientMaxWindowBits < DEFAULT_MAX_WINDOW_BITS) return null;

  // §7.1.2.1: a requested server window is a ceiling; a smaller configured one wins, and so does a smaller request.
  const serverBits = Math.min(cfg.serverMaxWindowBits, offer.serverMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS);
  const clientBits =
    typeof offer.clientMaxWindowBits === 'number'
      ? Math.min(cfg.clientMaxWindowBits, offer.clientMaxWindowBits)
      : cfg.clientMaxWindowBits;
  const params: DeflateParams = {
    // §7.1.1.1: a server accepting an offer with server_no_context_takeover MUST include it; 'shared' adds it anyway.
    serverNoContextTakeover: offer.serverNoContextTakeover || cfg.mode === 'shared',
    // §7.1.1.2: the client's hint that it will not take over context; echoing it lets us retain no inflate window.
    clientNoContextTakeover: offer.clientNoContextTakeover,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: clientBits,
  };

  const response: Array<[string, string | true]> = [];
  if (params.serverNoContextTakeover) response.push(['server_no_context_takeover', true]);
  if (params.clientNoContextTakeover) response.push(['client_no_context_takeover', true]);
  // §7.1.2.1: MUST answer a requested server_max_window_bits; MAY send it unasked to announce our own limit.
  if (offer.serverMaxWindowBits !== undefined || serverBits < DEFAULT_MAX_WINDOW_BITS) {
    response.push(['server_max_window_bits', String(serverBits)]);
  }
  // §7.1.2.2: only when offered; pointless when it would say 15 to a client that named no value.
  if (
    offer.clientMaxWindowBits !== undefined &&
    (offer.clientMaxWindowBits !== true || clientBits < DEFAULT_MAX_WINDOW_BITS)
  ) {
    response.push(['client_max_window_bits', String(clientBits)]);
  }
  return { params, response: formatExtension(EXTENSION_NAME, response) };
}

/** What the client puts in its offer, derived from config alone so the response can be checked against it. */
function clientOfferParams(cfg: ResolvedCompression): Offer {
  return {
    serverNoContextTakeover: cfg.mode === 'shared',
    clientNoContextTakeover: false,
    serverMaxWindowBits: cfg.serverMaxWindowBits < DEFAULT_MAX_WINDOW_BITS ? cfg.serverMaxWindowBits : undefined,
    // Always offered: it costs nothing and lets a memory-conscious server shrink our window instead of declining.
    clientMaxWindowBits: cfg.clientMaxWindowBits < DEFAULT_MAX_WINDOW_BITS ? cfg.clientMaxWindowBits : true,
  };
}

/** The client's Sec-WebSocket-Extensions offer, e.g. `permessage-deflate; client_max_window_bits`. */
export function clientOffer(cfg: ResolvedCompression): string {
  const offer = clientOfferParams(cfg);
  const params: Array<[string, string | true]> = [];
  if (offer.clientMaxWindowBits !== undefined) {
    params.push([
      'client_max_window_bits',
      offer.clientMaxWindowBits === true ? true : String(offer.clientMaxWindowBits),
    ]);
  }
  if (offer.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (offer.serverMaxWindowBits !== undefined) {
    params.push(['server_max_window_bits', String(offer.serverMaxWindowBits)]);
  }
  return formatExtension(EXTENSION_NAME, params);
}

function reject(why: string): never {
  // RFC 6455 §4.1: the client MUST _Fail the WebSocket Connection_; the 101 has been received, hence the status.
  throw new HandshakeError('ERR_HANDSHAKE_INVALID', `Invalid Sec-WebSocket-Extensions response: ${why}`, {
    status: 101,
  });
}

/**
 * Client side of RFC 7692 §5/§7.1: validates the server's Sec-WebSocket-Extensions against the offer that
 * `clientOffer(cfg)` produced and returns the agreed parameters. Throws HandshakeError (status 101) naming the fault.
 * Call it only when the header is present: an absent header means the server declined and there is no compression.
 */
export function acceptServerResponse(header: string, cfg: ResolvedCompression): DeflateParams {
  let exts: ReturnType<typeof parseExtensions>;
  try {
    exts = parseExtensions(header);
  } catch (err) {
    throw new HandshakeError(
      'ERR_HANDSHAKE_INVALID',
      `Invalid Sec-WebSocket-Extensions response: ${(err as Error).message}`,
      {
        status: 101,
        cause: err,
      },
    );
  }
  const [ext, ...rest] = exts;
  if (ext === undefined) reject('the header is empty');
  // RFC 6455 §9.1: the server may only accept extensions the client offered, and we offered exactly one.
  if (ext.name.toLowerCase() !== EXTENSION_NAME) reject(`extension "${ext.name}" was not offered`);
  if (rest.length > 0) reject(`${exts.length} extensions accepted but only one ${EXTENSION_NAME} was offered`);

  const offered = clientOfferParams(cfg);
  const params: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: DEFAULT_MAX_WINDOW_BITS,
    // §7.1.2.2: a value in our offer is a promise to stay within it even if the server does not repeat it.
    clientMaxWindowBits: cfg.clientMaxWindowBits,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of ext.params) {
    const name = rawName.toLowerCase();
    // §7: "the response contains multiple extension parameters with the same name" → fail.
    if (seen.has(name)) reject(`duplicate parameter ${name}`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) reject(`${name} must not have a value, got ${JSON.stringify(value)}`);
        if (name === 'server_no_context_takeover') params.serverNoContextTakeover = true;
        else params.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === null) reject(`server_max_window_bits must be an integer in 8..15, got ${JSON.stringify(value)}`);
        // §7.1.2.1: the response value must not exceed the one the client requested.
        if (offered.serverMaxWindowBits !== undefined && bits > offered.serverMaxWindowBits) {
          reject(`server_max_window_bits=${bits} exceeds the requested ${offered.serverMaxWindowBits}`);
        }
        params.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // §7.1.2.2: the server must not send it unless offered, and in a response it always has a value.
        if (offered.clientMaxWindowBits === undefined) reject('client_max_window_bits was not offered');
        const bits = windowBits(value);
        if (bits === null) reject(`client_max_window_bits must be an integer in 8..15, got ${JSON.stringify(value)}`);
        if (typeof offered.clientMaxWindowBits === 'number' && bits > offered.clientMaxWindowBits) {
          reject(`client_max_window_bits=${bits} exceeds the offered ${offered.clientMaxWindowBits}`);
        }
        params.clientMaxWindowBits = bits;
        break;
      }
      default:
        reject(`unknown parameter ${JSON.stringify(rawName)}`);
    }
  }
  // §7.1.1.1: "A server accepting an extension negotiation offer with this parameter MUST include [it]".
  if (offered.serverNoContextTakeover && !params.serverNoContextTakeover) {
    reject('server_no_context_takeover was requested but is missing');
  }
  // §7.1.2.1: likewise a requested server_max_window_bits MUST be answered.
  if (offered.serverMaxWindowBits !== undefined && !seen.has('server_max_window_bits')) {
    reject('server_max_window_bits was requested but is missing');
  }
  return params;
}
