// Parses and formats the Sec-WebSocket-Extensions header: RFC 6455 §9.1 grammar (tokens, `;` params, quoted-string
// values whose unescaped text must itself be a token), with the implied linear whitespace of RFC 2616 §2.1.
import { isToken } from './tokens.js';

export type ExtensionParamValue = string | true;
export type ExtensionParam = [name: string, value: ExtensionParamValue];

/** One element of the extension list. Params keep their order and duplicates (RFC 7692 §5: a duplicate voids an offer). */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

// RFC 7230 §3.2.6 tchar by char code, for the scanner (tokens.ts checks whole strings).
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TCHAR[c.charCodeAt(0)] = 1;

const isTchar = (code: number): boolean => code < 128 && TCHAR[code] === 1;

/**
 * Parses a Sec-WebSocket-Extensions value (several header lines joined with `,` are fine).
 * Empty list elements are skipped, as RFC 7230 §7 asks of recipients; an empty value yields [].
 * Throws SyntaxError, naming the offset, on anything outside the grammar.
 */
export function parseExtensions(value: string): ExtensionOffer[] {
  return new Parser(value).parse();
}

class Parser {
  readonly #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  parse(): ExtensionOffer[] {
    const out: ExtensionOffer[] = [];
    for (;;) {
      this.#ws();
      if (this.#i >= this.#s.length) return out;
      if (this.#peek() === ',') {
        this.#i++;
        continue;
      }
      const name = this.#token('extension name');
      const params: ExtensionParam[] = [];
      this.#ws();
      while (this.#peek() === ';') {
        this.#i++;
        this.#ws();
        const pname = this.#token('parameter name');
        this.#ws();
        let pvalue: ExtensionParamValue = true;
        if (this.#peek() === '=') {
          this.#i++;
          this.#ws();
          pvalue = this.#peek() === '"' ? this.#quoted() : this.#token(`value of "${pname}"`);
          this.#ws();
        }
        params.push([pname, pvalue]);
      }
      out.push({ name, params });
      if (this.#i < this.#s.length && this.#peek() !== ',') this.#fail(`expected "," or ";"`);
    }
  }

  #peek(): string | undefined {
    return this.#s[this.#i];
  }

  #ws(): void {
    while (this.#peek() === ' ' || this.#peek() === '\t') this.#i++;
  }

  #token(what: string): string {
    const start = this.#i;
    while (this.#i < this.#s.length && isTchar(this.#s.charCodeAt(this.#i))) this.#i++;
    if (this.#i === start) this.#fail(`expected ${what}`);
    return this.#s.slice(start, this.#i);
  }

  // RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to the 'token' ABNF."
  #quoted(): string {
    const start = this.#i;
    this.#i++;
    let text = '';
    for (;;) {
      const c = this.#peek();
      if (c === undefined) this.#fail('unterminated quoted-string', start);
      this.#i++;
      if (c === '"') break;
      if (c === '\\') {
        const escaped = this.#peek();
        if (escaped === undefined) this.#fail('unterminated quoted-string', start);
        this.#i++;
        text += escaped;
      } else {
        text += c;
      }
    }
    if (!isToken(text)) this.#fail('quoted value is not a token once unescaped', start);
    return text;
  }

  #fail(why: string, at = this.#i): never {
    throw new SyntaxError(`Invalid Sec-WebSocket-Extensions at offset ${at}: ${why} in ${JSON.stringify(this.#s)}`);
  }
}

/** Formats one extension, e.g. `permessage-deflate; client_max_window_bits=10`. Throws TypeError on a non-token name. */
export function formatExtension(
  name: string,
  params: Iterable<readonly [string, string | number | true]> = [],
): string {
  if (!isToken(name)) throw new TypeError(`Extension name is not a token: ${JSON.stringify(name)}`);
  let out = name;
  for (const [pname, value] of params) {
    if (!isToken(pname)) throw new TypeError(`Extension parameter name is not a token: ${JSON.stringify(pname)}`);
    if (value === true) {
      out += `; ${pname}`;
      continue;
    }
    const text = String(value);
    // Quoting cannot rescue a non-token: §9.1 requires the unescaped value to be a token anyway.
    if (!isToken(text)) throw new TypeError(`Value of "${pname}" is not a token: ${JSON.stringify(text)}`);
    out += `; ${pname}=${text}`;
  }
  return out;
}
