// visible(): what the CLI does to text from a peer before printing it — controls escaped, printable Unicode kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { visible } from '../../src/cli/terminal-text.js';

describe('visible()', () => {
  it('escapes every C0 control, DEL and every C1 control', () => {
    for (let cp = 0; cp < 0xa0; cp++) {
      if (cp >= 0x20 && cp < 0x7f) continue;
      const shown = visible(`a${String.fromCodePoint(cp)}b`);
      assert.match(shown, /^a\\(x[0-9a-f]{2}|[nrt])b$/, `U+${cp.toString(16)} → ${shown}`);
    }
  });

  it('names the common ones: \\n \\r \\t, and writes the rest as \\xNN', () => {
    assert.equal(visible('1\n2\r3\t4'), '1\\n2\\r3\\t4');
    assert.equal(visible('\x1b[31mred\x1b[0m\x07\x08\x7f\x9b'), '\\x1b[31mred\\x1b[0m\\x07\\x08\\x7f\\x9b');
    assert.equal(visible('\0'), '\\x00');
  });

  it('escapes bidi overrides, embeddings, isolates and marks (Trojan Source), and line/paragraph separators', () => {
    const bidi = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'];
    for (const ch of [...bidi, '\u200e', '\u200f', '\u061c', '\u2028', '\u2029']) {
      const hex = ch.codePointAt(0)!.toString(16).padStart(4, '0');
      assert.equal(visible(`x${ch}y`), `x\\u${hex}y`);
    }
  });

  it('escapes invisible format characters (zero-width space, BOM, soft hyphen, tag characters alone)', () => {
    assert.equal(visible('a\u200bb\ufeffc\u00add'), 'a\\u200bb\\ufeffc\\xadd');
    // Tag characters spelling "hi" outside a flag: hidden text, shown.
    assert.equal(visible('ok\u{e0068}\u{e0069}'), 'ok\\u{e0068}\\u{e0069}');
  });

  it('doubles a backslash, so an escape it prints cannot be faked by the server', () => {
    assert.equal(visible('\\x1b'), '\\\\x1b');
    assert.notEqual(visible('\\x1b'), visible('\x1b'));
  });

  it('keeps printable text as is: accents, CJK, Hangul, RTL scripts, emoji, ZWJ sequences, flags', () => {
    for (const text of [
      'café naïve Ωmega',
      '日本語の文章',
      '한국어',
      'مرحبا بالعالم',
      'می‌خواهم', // ZWNJ, needed by Persian
      '🎉 👍🏽 👨‍👩‍👧 ❤️', // skin tone, ZWJ family, variation selector
      '🏴󠁧󠁢󠁥󠁮󠁧󠁿 🇫🇷', // a tag-sequence flag and a regional-indicator flag
      'plain ASCII ~!@#$%^&*()_+{}|:"<>?',
    ]) {
      assert.equal(visible(text), text);
    }
  });
});
