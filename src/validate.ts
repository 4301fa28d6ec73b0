// Validation of user options, shared by every class that takes an options object: misuse throws at construction, a
// TypeError (or RangeError for a number out of range) that names the option and says what it expected.

/** An integer option in `min..max`; `fallback` when undefined. */
export function intOption(
  name: string,
  value: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in ${min}..${max}`;
    throw new RangeError(`${name} must be ${range}, got ${value}`);
  }
  return value;
}

/** One of a fixed set of strings (or other primitives). */
export function oneOf<T extends string | boolean>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new TypeError(
      `${name} must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${describe(value)}`,
    );
  }
  return value as T;
}

export function optionalFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describe(value)}`);
  return value as F;
}

/** A plain options object (undefined → {}). */
export function optionsObject<T extends object>(name: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  return value as Partial<T>;
}

/**
 * Throws for a key the options object does not know, so a typo or a habit from another library (ws's `maxPayload`)
 * fails loudly instead of doing nothing. `hints` maps such foreign names to what to use instead.
 */
export function checkKeys(
  where: string,
  options: object,
  known: ReadonlySet<string>,
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    const hint = Object.hasOwn(hints, key) ? `: ${hints[key]}` : '';
    throw new TypeError(`${where}: unknown option "${key}"${hint}`);
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
