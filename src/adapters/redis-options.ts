// Option checks particular to the Redis adapter and history (the general ones are in src/validate.ts): the options
// object with its known keys (a typo must not fall back to a default silently), and a Redis URL explained when wrong.
import { checkKeys, describe, optionsObject } from '../validate.js';

/** `value` as an options object (undefined → {}) whose keys are all in `known`; `where` names it in errors. */
export function redisOptions(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  const options = optionsObject<Record<string, unknown>>(where, value);
  checkKeys(where, options, new Set(known));
  return options;
}

export function nonEmptyString(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** Checks a Redis URL and says what is wrong with it (for a CLI flag, say). */
export function parseRedisUrl(url: string): URL {
  if (typeof url !== 'string') throw new TypeError(`url must be a string, got ${describe(url)}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a URL: "${url}" (expected redis://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`unsupported scheme "${parsed.protocol}" in "${url}" (expected redis:// or rediss://)`);
  }
  if (parsed.hostname === '') throw new TypeError(`no host in "${url}"`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new TypeError(`the database in "${url}" must be a number, got "${db}"`);
  return parsed;
}
