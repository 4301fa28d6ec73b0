// What `switchboard serve --redis URL` does about Redis: checks the URL, waits (bounded) for Redis to answer before the
// server listens — so a Redis that is not there fails at once, with the reason, instead of a node that silently shares
// nothing — and, once running, says on stderr when Redis is lost and when it is back.
import { subscribe } from 'node:diagnostics_channel';
import { UsageError } from './flags.js';

type RedisAdapterModule = typeof import('../adapters/redis.js');

/** Pause between two attempts while waiting for Redis at startup. */
const RETRY_DELAY = 250;

/** The adapter module, or a usage error when the optional `redis` package is not installed. */
export async function loadRedisAdapter(url: string): Promise<RedisAdapterModule> {
  let adapter: RedisAdapterModule;
  try {
    adapter = await import('../adapters/redis.js');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new UsageError('--redis needs the "redis" package next to switchboard: npm install redis');
    }
    throw err;
  }
  try {
    adapter.parseRedisUrl(url);
  } catch (err) {
    throw new UsageError(`--redis: ${(err as Error).message}`);
  }
  return adapter;
}

/** A URL fit to print: the password, if any, is masked. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

/** Resolves once Redis at `url` answers a PING; rejects after `wait` ms with the last reason it did not. */
export async function waitForRedis(url: string, wait: number): Promise<void> {
  const { createClient } = await import('redis');
  const deadline = Date.now() + wait;
  let last: unknown = new Error('no attempt finished');
  for (;;) {
    const left = Math.max(1, deadline - Date.now());
    // One attempt at a time (no reconnect strategy): each failure tells us why, and nothing retries behind our back.
    const client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: left, reconnectStrategy: false },
    });
    client.on('error', () => {});
    const attempt = client.connect().then(() => client.ping());
    attempt.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        attempt,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer')), left);
        }),
      ]);
      return;
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
      client.destroy();
    }
    if (deadline - Date.now() < RETRY_DELAY) break;
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY));
  }
  throw new Error(`Redis at ${redactedUrl(url)} did not answer within ${wait} ms: ${reason(last)}`);
}

/** Reports outages on stderr while the server runs: once when the first hub loses Redis, once when all have it back. */
export function reportRedisOutages(adapter: RedisAdapterModule, url: string): void {
  const down = new Set<string>();
  const where = redactedUrl(url);
  subscribe(adapter.redisDownChannel.name, (message) => {
    const { nodeId, error } = message as { nodeId: string; error: unknown };
    if (down.size === 0) {
      process.stderr.write(
        `switchboard: warning: lost Redis at ${where} (${reason(error)}); local clients are still served, ` +
          'messages for other nodes wait in a bounded buffer, reconnecting\n',
      );
    }
    down.add(nodeId);
  });
  subscribe(adapter.redisUpChannel.name, (message) => {
    const { nodeId, downtimeMs } = message as { nodeId: string; downtimeMs: number };
    if (!down.delete(nodeId) || down.size > 0) return;
    process.stderr.write(`switchboard: Redis at ${where} is back after ${Math.round(downtimeMs)} ms\n`);
  });
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Several addresses refused at once come as an AggregateError with an empty message.
  return err.message || (err as { code?: string }).code || err.name;
}
