// How the Redis layer fails: an Error with a stable `code` and a message that says which call failed and why (for a
// timeout, after how long), so callers can tell a stalled or unreachable Redis from a bug without parsing messages.

import { WebSocketError } from '../errors.js';

/** The codes of a {@link RedisError}. */
export type RedisErrorCode =
  /** A connection attempt or a command got no answer within its bound; the connection is replaced. */
  | 'ERR_REDIS_TIMEOUT'
  /** Redis could not be reached (connection down, or lost while the command waited for its reply). */
  | 'ERR_REDIS_UNAVAILABLE';

/** A WebSocketError with one of the Redis codes, so one `code` switch covers every error the library makes. */
export class RedisError extends WebSocketError {
  /** Whether Redis did not answer in time or could not be reached. */
  declare readonly code: RedisErrorCode;
  constructor(code: RedisErrorCode, message: string, details: { cause?: unknown } = {}) {
    super(code, message, details);
    this.name = 'RedisError';
  }
}

export function redisTimeout(what: string, ms: number): RedisError {
  return new RedisError('ERR_REDIS_TIMEOUT', `${what} timed out: no answer from Redis within ${ms} ms`);
}

/** Whether `err` is a RedisError for a Redis that did not answer in time (ERR_REDIS_TIMEOUT). */
export function isRedisTimeout(err: unknown): boolean {
  return err instanceof RedisError && err.code === 'ERR_REDIS_TIMEOUT';
}
