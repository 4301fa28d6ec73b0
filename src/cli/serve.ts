// `switchboard serve`: runs the demo server until SIGINT/SIGTERM, then shuts down gracefully (1001 to every peer).
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { startDemoServer } from '../../apps/demo-server.js';
import { compressionFlag, intFlag, UsageError } from './main.js';

export async function runServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'max-message-size': { type: 'string' },
      compression: { type: 'string' },
      origin: { type: 'string', multiple: true },
      'shutdown-timeout': { type: 'string' },
      redis: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
  });
  const tls = tlsFlags(values['tls-cert'], values['tls-key']);
  const redis = values.redis === undefined ? undefined : await redisFlag(values.redis);
  const demo = await startDemoServer({
    host: values.host ?? '127.0.0.1',
    port: intFlag('port', values.port, 8080, 0, 65535),
    maxMessageSize: intFlag('max-message-size', values['max-message-size'], 64 * 1024 * 1024, 1),
    compression: compressionFlag(values.compression, 'dedicated'),
    origins: originFlags(values.origin ?? []),
    shutdownTimeout: intFlag('shutdown-timeout', values['shutdown-timeout'], 5000, 1),
    ...(redis !== undefined && { redis }),
    ...(tls && { tls }),
  });
  process.stdout.write(`switchboard listening on ${demo.url}${redis ? ` (cluster node via ${redis})` : ''}\n`);
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.stdout.write(`${signal}: closing ${demo.connections()} connection(s) with 1001\n`);
      demo.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** `--redis URL`: checked here so a typo exits 2 with what is wrong, before anything listens. */
async function redisFlag(value: string): Promise<string> {
  let adapter: typeof import('../adapters/redis.js');
  try {
    adapter = await import('../adapters/redis.js');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new UsageError('--redis needs the "redis" package next to switchboard: npm install redis');
    }
    throw err;
  }
  try {
    adapter.parseRedisUrl(value);
  } catch (err) {
    throw new UsageError(`--redis: ${(err as Error).message}`);
  }
  return value;
}

/** `--tls-cert FILE --tls-key FILE` (PEM), both or neither: read here so a wrong path exits 2 before anything listens. */
function tlsFlags(certFile: string | undefined, keyFile: string | undefined): { cert: Buffer; key: Buffer } | null {
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined || keyFile === undefined) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`--${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const pair = { cert: read('tls-cert', certFile), key: read('tls-key', keyFile) };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new UsageError(`--tls-cert/--tls-key: not a usable PEM certificate and key (${(err as Error).message})`);
  }
  return pair;
}

/** Each --origin is '*' or a full origin such as https://app.example.com (scheme included). */
function originFlags(values: string[]): string[] {
  for (const v of values) {
    if (v === '*') continue;
    let ok = false;
    try {
      ok = new URL(v).origin !== 'null';
    } catch {}
    if (!ok) throw new UsageError(`--origin must be '*' or an origin like https://app.example.com, got "${v}"`);
  }
  return values;
}
