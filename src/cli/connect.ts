// `switchboard connect <url>`: an interactive client like wscat. Lines typed are sent as text; messages received
// are printed one per line, control characters escaped ("< " text, "< [binary N bytes] hex"); exit 0 on a normal
// close, 1 when the handshake fails or the connection ends badly, 2 on bad usage.
import { createInterface } from 'node:readline';
import { connect } from '../client.js';
import type { Connection } from '../connection/connection.js';
import { isToken, validateProtocols } from '../handshake/tokens.js';
import { explainConnectFailure } from './connect-errors.js';
import { type CommandSpec, compression, type FlagSpec, helpText, origin, parseArgs, UsageError } from './flags.js';
import { visible } from './terminal-text.js';

export const CONNECT = {
  name: 'connect',
  args: '<url>',
  summary:
    'Opens a WebSocket connection to <url> (ws://, wss://; http:// and https:// are taken as ws:// and wss://). ' +
    'Each line read from stdin is sent as a text message; Ctrl-D (end of input) closes with 1000. ' +
    'Each message received is printed on one line: "< text", or "< [binary N bytes] hex of the first 64".',
  positionals: { min: 1, max: 1 },
  flags: {
    protocol: { kind: 'value', multiple: true, placeholder: 'NAME', help: 'offer this subprotocol' },
    header: { kind: 'value', multiple: true, placeholder: '"Name: value"', help: 'send this request header' },
    origin: {
      kind: 'value',
      placeholder: 'ORIGIN',
      help: 'send this Origin header, as a browser would (e.g. http://127.0.0.1:8080)',
      default: 'none',
    },
    compression: {
      kind: 'value',
      placeholder: 'MODE',
      help: 'offer permessage-deflate: dedicated, shared or off',
      default: 'dedicated',
    },
  },
  notes: [
    'Text from the server (messages, close reasons, errors) is printed with control characters escaped — \\x1b, ' +
      '\\n, \\u202e... and a backslash as \\\\ — so it cannot drive your terminal; printable Unicode is kept as is.',
    "A 403 answer usually means the server's origin policy refused you: try --origin with the server's own origin.",
  ],
} as const satisfies CommandSpec<Readonly<Record<string, FlagSpec>>>;

export async function runConnect(argv: readonly string[]): Promise<number> {
  const args = parseArgs(CONNECT, argv);
  if (args.help) {
    process.stdout.write(helpText(CONNECT));
    return 0;
  }
  const url = wsUrl(args.positionals[0]!);
  const protocols = args.flags.protocol;
  try {
    validateProtocols(protocols);
  } catch (err) {
    throw new UsageError(`--protocol: ${(err as Error).message}`);
  }
  const sentOrigin = args.flags.origin === undefined ? undefined : origin('origin', args.flags.origin, false);
  const options = {
    protocols,
    headers: headerFlags(args.flags.header),
    compression: compression(args.flags.compression),
    ...(sentOrigin !== undefined && { origin: sentOrigin }),
  };
  let pending: Promise<Connection>;
  try {
    pending = connect(url, options);
  } catch (err) {
    // connect() throws at once only for misuse, which the checks above should have caught with a better message.
    if (err instanceof TypeError || err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  let conn: Connection;
  try {
    conn = await pending;
  } catch (err) {
    const why = explainConnectFailure(err, { url, origin: sentOrigin });
    process.stderr.write(`switchboard: could not connect to ${visible(url.href)}: ${why}\n`);
    return 1;
  }
  return session(conn);
}

async function session(conn: Connection): Promise<number> {
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const protocol = conn.protocol ? ` (protocol ${visible(conn.protocol)})` : '';
  out(`connected${protocol}; type a line to send it, Ctrl-D to close`);
  conn.on('message', (msg) => {
    out(
      msg.type === 'text'
        ? `< ${visible(msg.data)}`
        : `< [binary ${msg.data.length} bytes] ${msg.data.subarray(0, 64).toString('hex')}`,
    );
  });
  const rl = createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => conn.send(line));
  rl.on('close', () => {
    conn.close(1000, 'bye');
  });
  const info = await conn.closed;
  rl.close();
  out(`closed: ${info.code}${info.reason ? ` ${visible(info.reason)}` : ''}${info.wasClean ? '' : ' (not clean)'}`);
  return info.wasClean || info.code === 1000 ? 0 : 1;
}

/** The URL argument, checked here so that a typo is a usage error (exit 2) rather than a failed connection. */
function wsUrl(arg: string): URL {
  const example = 'e.g. ws://127.0.0.1:8080/echo';
  const shown = visible(arg);
  // "localhost:8080/echo" parses as a URL with the scheme "localhost:": catch the missing scheme first.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    throw new UsageError(`"${shown}" is not a WebSocket URL (did you mean ws://${shown}?)`);
  }
  let url: URL;
  try {
    url = new URL(arg);
  } catch {
    throw new UsageError(`"${shown}" is not a URL (${example})`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new UsageError(`a WebSocket URL starts with ws:// or wss://, got "${shown}" (${example})`);
  }
  if (url.hash) throw new UsageError(`a WebSocket URL cannot have a #fragment, got "${shown}"`);
  return url;
}

/** Each --header is "Name: value": a token for the name (RFC 9110 §5.1), and a value node will send (field-vchar,
 * space, tab, obs-text: no control characters, nothing beyond Latin-1). */
function headerFlags(values: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of values) {
    const at = h.indexOf(':');
    const name = h.slice(0, Math.max(at, 0)).trim();
    const value = h.slice(at + 1).trim();
    if (at <= 0 || !isToken(name)) {
      throw new UsageError(`--header must look like "Name: value" with a valid header name, got "${visible(h)}"`);
    }
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw new UsageError(`--header ${name}: the value may hold printable ASCII, tabs and Latin-1 only`);
    }
    headers[name] = value;
  }
  return headers;
}
