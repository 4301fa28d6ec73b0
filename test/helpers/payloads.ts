// Deterministic test payloads: bytes of a recognizable pattern (not all zero, so masking errors show) and UTF-8 text
// of an exact byte length with multi-byte characters (so UTF-8 validation does real work, RFC 6455 §8.1).

/** `count` bytes of a recognizable pattern; different seeds give different bytes. */
export function pattern(count: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(count);
  for (let i = 0; i < count; i++) out[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return out;
}

/** A string of exactly `n` UTF-8 bytes; from 5 bytes on it starts with two multi-byte characters. */
export function text(n: number, seed = 0): string {
  const ascii = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const unit = ascii.slice(seed % ascii.length) + ascii.slice(0, seed % ascii.length);
  if (n < 5) return unit.slice(0, n);
  const rest = n - 5;
  return `é€${unit.repeat(Math.ceil(rest / unit.length)).slice(0, rest)}`;
}
