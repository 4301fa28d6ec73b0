// The chat's name rules (apps/chat-names.ts): the display form, what is refused as invisible, and which names share a
// look-alike key (and so cannot both be in one room).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { displayForm, lookAlikeKey, nameProblem } from '../../apps/chat-names.js';

describe('chat names', () => {
  test('display form: NFC, no spaces at the ends, one ASCII space per run of any Unicode spaces', () => {
    assert.equal(displayForm('  ann \u00a0\u2003 b  '), 'ann b');
    assert.equal(displayForm('e\u0301mile'), '\u00e9mile');
    assert.equal(displayForm('\ufeffann\t'), '\ufeffann\t', 'a BOM or tab is left for nameProblem to refuse');
  });

  test('invisible and control characters are refused anywhere in a name; emoji joiners only inside emoji', () => {
    for (const name of [
      '\ufeffann',
      'ann\t',
      'a\u200bnn',
      'a\u200dnn',
      'ann\ufe0f',
      '\u2062x',
      'x\u{e007f}',
      'x\u{f0000}',
    ]) {
      assert.match(
        String(nameProblem(name)),
        /^must not contain invisible or control characters \(found U\+[0-9A-F]{4,5}\)$/,
        name,
      );
    }
    for (const name of ['👩‍💻', '❤️', '👍🏽', '👨🏻‍🤝‍👨🏿', 'ann', 'Zoë', '東京', 'مريم', 'a.b_c-d']) {
      assert.equal(nameProblem(name), null, name);
    }
    assert.equal(nameProblem('\u0301'), 'must contain a visible character');
  });

  test('look-alike keys: case, compatibility forms, homoglyphs and letter pairs fold; visible differences stay', () => {
    const same: Array<[string, string]> = [
      ['ann', 'ANN'],
      ['ann', 'ａｎｎ'],
      ['ann', '\u0430nn'], // Cyrillic а
      ['paypal', 'р\u0430yp\u0430l'],
      ['Bill', 'BiII'],
      ['Bill', 'bi1l'],
      ['oscar', '0scar'],
      ['mary', 'rnary'],
      ['wes', 'vves'],
      ['ΑΒΕ', 'abe'], // Greek capitals
      ['ﬁn', 'fin'], // a ligature
    ];
    for (const [a, b] of same) assert.equal(lookAlikeKey(a), lookAlikeKey(b), `${a} ~ ${b}`);
    for (const [a, b] of [
      ['ann', 'anñ'],
      ['ann', 'an n'],
      ['ann', 'anne'],
      ['東京', '京都'],
    ]) {
      assert.notEqual(lookAlikeKey(a!), lookAlikeKey(b!), `${a} ≠ ${b}`);
    }
  });
});
