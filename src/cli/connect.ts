// `switchboard connect <url>`: an interactive client like wscat. Lines typed are sent as text; messages received
// are printed ("< " text, "< [binary N bytes] hex"); a failed handshake prints why and exits 1.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect } from '../client.js';
import { HandshakeError } from '../errors.js';
import { compressionFlag, UsageError } from './main.js';

export async function runConnect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      protocol: { type: 'string', multiple: true },
      header: { type: 'string', multiple: true },
      compression: { type: 'string' },
      origin: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('connect takes exactly one URL');
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const at = h.indexOf(':');
    if (at <= 0) throw new UsageError(`--header must look like "Name: value", got "${h}"`);
    headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
  }
  let conn: Awaited<ReturnType<typeof connect>>;
  try {
    conn = await connect(positionals[0]!, {
      protocols: values.protocol ?? [],
      headers,
      compression: compressionFlag(values.compression, 'dedicated'),
      ...(values.origin ? { origin: values.origin } : {}),
    });
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(err.message);
    const status = err instanceof HandshakeError && err.status ? ` (HTTP ${err.status})` : '';
    process.stderr.write(`switchboard: could not connect to ${positionals[0]}${status}: ${(err as Error).message}\n`);
    return 1;
  }
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  out(`connected${conn.protocol ? ` (protocol ${conn.protocol})` : ''}; type a line to send it, Ctrl-D to close`);
  conn.on('message', (msg) => {
    out(
      msg.type === 'text'
        ? `< ${msg.data}`
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
  out(`closed: ${info.code}${info.reason ? ` ${info.reason}` : ''}${info.wasClean ? '' : ' (not clean)'}`);
  return info.wasClean || info.code === 1000 ? 0 : 1;
}
