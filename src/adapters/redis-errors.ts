// How the Redis layer fails: an Error with a stable `code` and a message that says which call failed and why (for a
// timeout, after how long), so callers can tell a stalled or unreachable Redis from a bug without parsing messages.

export type RedisErrorCode =
  /** A connection attempt or a command got no answer within its bound; the connection is replaced. */
  | 'ERR_REDIS_TIMEOUT'
  /** Redis could not be reached (connection down, or lost while the command waited for its reply). */
  | 'ERR_REDIS_UNAVAILABLE';

export class RedisError extends Error {
  readonly code: RedisErrorCode;
  constructor(code: RedisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisError';
    this.code = code;
  }
}

export function redisTimeout(what: string, ms: number): RedisError {
  return new RedisError('ERR_REDIS_TIMEOUT', `${what} timed out: no answer from Redis within ${ms} ms`);
}

export function isRedisTimeout(err: unknown): boolean {
  return err instanceof RedisError && err.code === 'ERR_REDIS_TIMEOUT';
}
