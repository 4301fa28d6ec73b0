// `switchboard serve`: runs the demo server until SIGINT/SIGTERM, then shuts down gracefully (1001 to every peer).
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_HEARTBEAT_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_BYTES,
} from '../protocol/constants.js';
import { type CompressionOption, DEFAULT_COMPRESSION_THRESHOLD } from '../extensions/deflate-negotiation.js';
import {
  byteSize,
  type CommandSpec,
  compression,
  type FlagSpec,
  formatBytes,
  helpText,
  oneOf,
  origin,
  parseArgs,
  UsageError,
  wholeNumber,
} from './flags.js';
import { loadRedisAdapter, redactedUrl, reportRedisOutages, waitForRedis } from './serve-redis.js';

/**
 * A public demo should not hold 64 MiB per message for anyone who connects; 1 MiB is plenty for the chat and the
 * dashboard. Conformance suites raise it (`--max-message-size 16MiB` for Autobahn's 9.x cases).
 */
export const DEMO_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Whole messages are held in memory (echo, broadcast): a bound on what a size flag may ask for. */
const MAX_MESSAGE_SIZE_LIMIT = 1024 ** 3;
const DEFAULT_PORT = 8080;
const DEFAULT_REDIS_WAIT = 5_000;
const MS = { min: 1, max: 24 * 3600 * 1000 } as const;

export const SERVE = {
  name: 'serve',
  args: '',
  summary:
    'Runs the demo server: chat (GET /, ws /chat), live dashboard (GET /dashboard), ws /echo, ws /broadcast, ' +
    'GET /metrics. SIGINT or SIGTERM closes every peer with 1001, waits up to --shutdown-timeout, and exits 0.',
  positionals: { min: 0, max: 0 },
  flags: {
    host: { kind: 'value', placeholder: 'HOST', help: 'address to listen on', default: '127.0.0.1' },
    port: { kind: 'value', placeholder: 'PORT', help: 'port to listen on; 0 picks a free one', default: '8080' },
    'max-message-size': {
      kind: 'value',
      placeholder: 'BYTES',
      help: `largest message accepted (up to ${formatBytes(MAX_MESSAGE_SIZE_LIMIT)}); bigger ones close with 1009`,
      default: formatBytes(DEMO_MAX_MESSAGE_SIZE),
    },
    compression: {
      kind: 'value',
      placeholder: 'MODE',
      help: 'permessage-deflate when a client offers it: dedicated, shared or off',
      default: 'dedicated',
    },
    'compression-threshold': {
      kind: 'value',
      placeholder: 'BYTES',
      help: 'send messages shorter than this uncompressed; 0 compresses every message',
      default: formatBytes(DEFAULT_COMPRESSION_THRESHOLD),
    },
    origin: {
      kind: 'value',
      multiple: true,
      placeholder: 'ORIGIN',
      help: "also allow browsers from this origin (e.g. https://app.example.com); '*' allows any",
      default: 'same origin only',
    },
    'shutdown-timeout': {
      kind: 'value',
      placeholder: 'MS',
      help: 'how long shutdown waits for peers to answer 1001',
      default: String(DEFAULT_CLOSE_TIMEOUT),
    },
    'heartbeat-interval': {
      kind: 'value',
      placeholder: 'MS',
      help: 'ping a peer that has been silent this long',
      default: String(DEFAULT_HEARTBEAT_INTERVAL),
    },
    'heartbeat-timeout': {
      kind: 'value',
      placeholder: 'MS',
      help: 'terminate a pinged peer that sends nothing for this long',
      default: String(DEFAULT_HEARTBEAT_TIMEOUT),
    },
    'no-heartbeat': { kind: 'switch', help: 'never ping; keep silent peers until TCP gives up on them' },
    'max-buffered-bytes': {
      kind: 'value',
      placeholder: 'BYTES',
      help: `bytes that may wait for one slow peer before --on-slow-consumer applies (${formatBytes(DEFAULT_HIGH_WATER_MARK)} to ${formatBytes(MAX_MESSAGE_SIZE_LIMIT)})`,
      default: formatBytes(DEFAULT_MAX_BUFFERED_BYTES),
    },
    'on-slow-consumer': {
      kind: 'value',
      placeholder: 'POLICY',
      help: 'close (1008) a peer over --max-buffered-bytes, or drop the messages it cannot take',
      default: 'close',
    },
    redis: {
      kind: 'value',
      placeholder: 'URL',
      help: 'run as one node of a cluster through Redis (redis://host:port or rediss://...)',
      default: 'off',
    },
    'redis-wait': {
      kind: 'value',
      placeholder: 'MS',
      help: 'how long to wait at startup for Redis to answer before giving up',
      default: String(DEFAULT_REDIS_WAIT),
    },
    'tls-cert': {
      kind: 'value',
      placeholder: 'FILE',
      help: 'PEM certificate (with --tls-key): HTTPS with HTTP/2 and HTTP/1.1 on one port, WebSockets over both',
      default: 'plain HTTP/1.1',
    },
    'tls-key': { kind: 'value', placeholder: 'FILE', help: 'PEM private key of --tls-cert' },
  },
  notes: [
    'Sizes are in bytes, or with a binary unit: 65536, 64KiB, 16MiB, 1GiB.',
    'With --redis, the server first waits up to --redis-wait for Redis to answer a PING: if it does not, serve ' +
      'exits 1 saying why, without listening. Once running, it keeps serving local clients when Redis goes away, ' +
      'warns on stderr, buffers messages for other nodes (bounded) and reconnects; it says so when Redis is back.',
    'Exit status: 0 after a signal and a clean shutdown, 1 when the server cannot start, 2 on bad usage.',
  ],
} as const satisfies CommandSpec<Readonly<Record<string, FlagSpec>>>;

export async function runServe(argv: readonly string[]): Promise<number> {
  const args = parseArgs(SERVE, argv);
  if (args.help) {
    process.stdout.write(helpText(SERVE));
    return 0;
  }
  const f = args.flags;
  const host = f.host ?? '127.0.0.1';
  if (host.trim() === '' || /\s/.test(host))
    throw new UsageError(`--host must be a host name or address, got "${host}"`);
  const options = {
    host,
    port: wholeNumber('port', f.port, DEFAULT_PORT, { min: 0, max: 65535 }),
    maxMessageSize: byteSize('max-message-size', f['max-message-size'], DEMO_MAX_MESSAGE_SIZE, {
      min: 1,
      max: MAX_MESSAGE_SIZE_LIMIT,
    }),
    compression: compressionFlags(f.compression, f['compression-threshold']),
    origins: f.origin.map((o) => origin('origin', o, true)),
    shutdownTimeout: wholeNumber('shutdown-timeout', f['shutdown-timeout'], DEFAULT_CLOSE_TIMEOUT, MS),
    heartbeat: heartbeatFlags(f),
    maxBufferedBytes: byteSize('max-buffered-bytes', f['max-buffered-bytes'], DEFAULT_MAX_BUFFERED_BYTES, {
      // The library's floor: the cap cannot be below the point where send() starts saying "wait".
      min: DEFAULT_HIGH_WATER_MARK,
      max: MAX_MESSAGE_SIZE_LIMIT,
    }),
    onSlowConsumer: oneOf('on-slow-consumer', f['on-slow-consumer'], 'close', ['close', 'drop']),
  };
  const tls = tlsFlags(f['tls-cert'], f['tls-key']);
  const redisWait = wholeNumber('redis-wait', f['redis-wait'], DEFAULT_REDIS_WAIT, MS);
  if (f['redis-wait'] !== undefined && f.redis === undefined) throw new UsageError('--redis-wait needs --redis');
  const redis = f.redis;
  if (redis !== undefined) {
    const adapter = await loadRedisAdapter(redis);
    try {
      await waitForRedis(redis, redisWait);
    } catch (err) {
      process.stderr.write(`switchboard: ${(err as Error).message}\n`);
      return 1;
    }
    reportRedisOutages(adapter, redis);
  }
  // Loaded here, not at the top: --help, --version and connect need none of the demo (nor prom-client).
  const { startDemoServer } = await import('../../apps/demo-server.js');
  let demo: Awaited<ReturnType<typeof startDemoServer>>;
  try {
    demo = await startDemoServer({ ...options, ...(redis !== undefined && { redis }), ...(tls && { tls }) });
  } catch (err) {
    const advice = listenAdvice(err);
    if (advice === null) throw err;
    process.stderr.write(`switchboard: cannot listen on ${host}:${options.port}: ${advice}\n`);
    return 1;
  }
  const cluster = redis === undefined ? '' : ` (cluster node via ${redactedUrl(redis)})`;
  process.stdout.write(`switchboard listening on ${demo.url}${cluster}\n`);
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

/** `--compression MODE` and `--compression-threshold BYTES`: a threshold means nothing with compression off. */
function compressionFlags(mode: string | undefined, threshold: string | undefined): CompressionOption {
  const choice = compression(mode);
  if (threshold === undefined) return choice;
  if (choice === false) throw new UsageError('--compression-threshold needs --compression dedicated or shared');
  return {
    mode: choice,
    threshold: byteSize('compression-threshold', threshold, DEFAULT_COMPRESSION_THRESHOLD, {
      min: 0,
      max: MAX_MESSAGE_SIZE_LIMIT,
    }),
  };
}

function heartbeatFlags(f: {
  readonly 'no-heartbeat': boolean;
  readonly 'heartbeat-interval': string | undefined;
  readonly 'heartbeat-timeout': string | undefined;
}): { interval: number; timeout: number } | false {
  if (f['no-heartbeat']) {
    for (const flag of ['heartbeat-interval', 'heartbeat-timeout'] as const) {
      if (f[flag] !== undefined) throw new UsageError(`--no-heartbeat and --${flag} contradict each other`);
    }
    return false;
  }
  if (f['heartbeat-interval'] === '0')
    throw new UsageError('--heartbeat-interval must be at least 1; --no-heartbeat turns it off');
  return {
    interval: wholeNumber('heartbeat-interval', f['heartbeat-interval'], DEFAULT_HEARTBEAT_INTERVAL, MS),
    timeout: wholeNumber('heartbeat-timeout', f['heartbeat-timeout'], DEFAULT_HEARTBEAT_TIMEOUT, MS),
  };
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

/** What a system error from listen() means, or null when `err` is not one (a bug: let it show as it is). */
function listenAdvice(err: unknown): string | null {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return null;
  if (code === 'EADDRINUSE') return 'the port is in use (choose another with --port, or --port 0 for any free one)';
  if (code === 'EACCES') return 'permission denied (ports below 1024 need privileges: try --port 8080)';
  if (code === 'EADDRNOTAVAIL') return 'this machine has no such address (try --host 127.0.0.1 or --host 0.0.0.0)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  return (err as Error).message;
}
