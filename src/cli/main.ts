// Entry of the `switchboard` command: dispatches to a subcommand; bad usage prints what is wrong and exits 2.
import { runConnect } from './connect.js';
import { runServe } from './serve.js';

export const USAGE = `usage:
  switchboard serve [--host 127.0.0.1] [--port 8080] [--max-message-size BYTES]
                    [--compression dedicated|shared|off] [--origin URL]... [--shutdown-timeout MS]
                    [--redis redis://127.0.0.1:6379] [--tls-cert FILE --tls-key FILE]
  switchboard connect <ws://host:port/path> [--protocol NAME]... [--header "Name: value"]...
                    [--compression dedicated|shared|off] [--origin URL]
`;

export class UsageError extends Error {}

export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await runServe(rest);
      case 'connect':
        return await runConnect(rest);
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (err) {
    // parseArgs reports unknown or malformed flags with a TypeError whose code starts with ERR_PARSE_ARGS.
    const code = (err as { code?: string }).code ?? '';
    if (err instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`switchboard: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** Parses a whole, non-negative number flag, naming the flag when it is not one. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function compressionFlag(
  value: string | undefined,
  fallback: 'dedicated' | 'shared' | false,
): 'dedicated' | 'shared' | false {
  if (value === undefined) return fallback;
  if (value === 'off') return false;
  if (value === 'dedicated' || value === 'shared') return value;
  throw new UsageError(`--compression must be dedicated, shared or off, got "${value}"`);
}
