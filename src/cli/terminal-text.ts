// Text from a peer made safe to print on a terminal: control characters (C0, DEL, C1), Unicode format characters
// (bidi overrides and isolates, zero-width space, BOM...) and line/paragraph separators become visible escapes, so a
// server cannot move the cursor, recolour, retitle, hyperlink or reorder what the user sees, nor fake a line of ours.

// An emoji tag sequence (a subdivision flag such as England's) is printable as a whole; ZWJ and ZWNJ join emoji and
// shape scripts (Persian, Indic). Everything else in these classes is escaped, and so is the backslash, so that an
// escape we print cannot be confused with the same characters sent as text.
const UNSAFE = /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}|[\u200C\u200D]|[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

export function visible(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    if (ch.length > 2 || ch === '\u200C' || ch === '\u200D') return ch;
    const named = NAMED[ch];
    if (named) return named;
    const cp = ch.codePointAt(0)!;
    const hex = cp.toString(16);
    if (cp <= 0xff) return `\\x${hex.padStart(2, '0')}`;
    if (cp <= 0xffff) return `\\u${hex.padStart(4, '0')}`;
    return `\\u{${hex}}`;
  });
}
