// Option checks for the Redis adapter and history: every option is validated at construction, a key nobody knows is
// refused by name (a typo must not fall back to a default silently), and a bad Redis URL says what is wrong with it.
import type { Clock } from '../clock.js';

/** The options object itself: a plain object whose keys are all in `known` (`where` prefixes names, e.g. 'reconnect.'). */
export function optionsObject(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${where === '' ? 'the options' : where.slice(0, -1)} must be an object, got ${describe(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new TypeError(`unknown option "${where}${key}" (known: ${known.join(', ')})`);
  }
  return value as Record<string, unknown>;
}

/** A whole number in [min, max]; `undefined` takes the default. */
export function wholeNumber(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export function nonEmptyString(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

export function clockOption(value: unknown, fallback: Clock): Clock {
  if (value === undefined) return fallback;
  const clock = value as Partial<Clock> | null;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new TypeError(`clock must be a Clock (now, setTimeout, clearTimeout), got ${describe(value)}`);
  }
  return clock as Clock;
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

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' || typeof value === 'function' ? `a ${typeof value}` : String(value);
}
