// Header token lists (RFC 7230 §3.2.6, §7) as used by Connection, Upgrade and Sec-WebSocket-Protocol (RFC 6455 §4).

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** Splits a comma-separated header into trimmed, non-empty elements; an array header (repeated field) is joined. */
export function splitList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : value;
  const out: string[] = [];
  for (const part of joined.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/** Case-insensitive membership, e.g. `Connection: keep-alive, Upgrade` contains "upgrade". */
export function listHasToken(value: string | string[] | undefined, token: string): boolean {
  const wanted = token.toLowerCase();
  // Nearly every handshake sends exactly the one token: compare it without splitting.
  if (typeof value === 'string' && value.length === wanted.length) return value.toLowerCase() === wanted;
  return splitList(value).some((t) => t.toLowerCase() === wanted);
}

/** Subprotocol names must be tokens and unique (RFC 6455 §4.1 item 10). */
export function validateProtocols(protocols: readonly string[]): void {
  if (!Array.isArray(protocols)) throw new TypeError('protocols must be an array of subprotocol names');
  const seen = new Set<string>();
  for (const p of protocols) {
    if (!isToken(p)) throw new TypeError(`invalid subprotocol name ${JSON.stringify(p)}`);
    if (seen.has(p)) throw new TypeError(`duplicate subprotocol ${JSON.stringify(p)}`);
    seen.add(p);
  }
}
