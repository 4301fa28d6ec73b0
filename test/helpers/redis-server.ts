// A real redis-server for integration tests: started on a free 127.0.0.1 port in a temp dir, without persistence,
// stopped by t.after; stop()/start()/restart() simulate outages. Never a mock.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export function haveRedisServer(): boolean {
  return existsSync(REDIS_SERVER);
}

/**
 * The `skip` option of a suite that needs redis-server: skipped (with this reason) on a developer machine without it,
 * never under CI, where .ci/run installs it — there a missing server must fail, not pass quietly.
 */
export const skipWithoutRedis =
  haveRedisServer() || process.env.CI ? false : 'no redis-server (apt-get install redis-server)';

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: a crash, connections reset) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets (the kernel still accepts connections) but answers nothing. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Runs one command through a separate, short-lived client (Buffers go as they are: any bytes). */
  command<T = unknown>(args: Array<string | Buffer>): Promise<T>;
}

export async function startRedisServer(t: TestContext | null): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    const proc = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let log = '';
    proc.stdout?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${log}`);
      if (await pingable(port)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s: ${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  const signal = (name: 'SIGSTOP' | 'SIGCONT'): void => {
    const proc = child as ChildProcess | null;
    if (!proc || proc.exitCode !== null) throw new Error(`redis-server is not running (${name})`);
    proc.kill(name);
  };

  await start();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    command: async <T>(args: Array<string | Buffer>): Promise<T> => {
      const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
      client.on('error', () => {});
      await client.connect();
      try {
        return (await client.sendCommand(args)) as T;
      } finally {
        client.destroy();
      }
    },
  };
  const cleanup = async (): Promise<void> => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  };
  t?.after(cleanup);
  return server;
}

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Channels with at least `n` subscribers (PUBSUB NUMSUB), checked through a separate client. */
export async function waitForSubscribers(
  redis: RedisServer,
  channel: string,
  n: number,
  timeoutMs = 10_000,
): Promise<void> {
  await waitFor(
    `${n} subscriber(s) on ${channel}`,
    async () => {
      const reply = await redis.command<[string, number]>(['PUBSUB', 'NUMSUB', channel]);
      return Number(reply[1]) >= n;
    },
    timeoutMs,
  );
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

async function pingable(port: number): Promise<boolean> {
  const client = createClient({
    url: `redis://127.0.0.1:${port}`,
    socket: { reconnectStrategy: false, connectTimeout: 500 },
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}
