// Names in the chat (people and rooms): the form shown (NFC, spaces tidied), what is refused (invisible and control
// characters, after Unicode's Default_Ignorable_Code_Point and general categories), and the look-alike key under which a
// name is unique in its room (case, compatibility forms and common Latin homoglyphs, a subset of UTS #39 skeletons).

/**
 * Shown as written, tidied: NFC (so "é" typed either way is one name), no spaces at either end, and every run of
 * spaces (any Unicode space separator) one ASCII space, so "ann  b" cannot pose as "ann b".
 */
export function displayForm(raw: string): string {
  // Not trim(): it would also drop a BOM or a tab at either end, which are refused instead, like anywhere else.
  return raw
    .normalize('NFC')
    .replace(/\p{Zs}+/gu, ' ')
    .replace(/^ | $/g, '');
}

// Emoji need two otherwise invisible characters: ZWJ between pictographs (👩‍💻) and the emoji-style selector after one
// (❤️). Only there are they allowed.
const EMOJI_JOINERS =
  /(?<=\p{Extended_Pictographic}[\u{1F3FB}-\u{1F3FF}]?)\u{FE0F}|(?<=\p{Extended_Pictographic}[\u{1F3FB}-\u{1F3FF}\u{FE0F}]?)\u{200D}(?=\p{Extended_Pictographic})/gu;
// Controls (Cc), format characters (Cf: zero-width spaces and joiners, bidi marks/overrides/isolates, BOM, word
// joiner, soft hyphen...), line/paragraph separators, private-use and lone surrogates, and everything else Unicode
// says renders as nothing (Hangul fillers, variation selectors, tags...).
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;

/** Why `name` (already in display form) is refused, fit to show the user; null when it is fine. */
export function nameProblem(name: string): string | null {
  const bad = INVISIBLE.exec(name.replace(EMOJI_JOINERS, ''));
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return `must not contain invisible or control characters (found U+${code})`;
  }
  if (!/[^\p{M}\p{Zs}]/u.test(name)) return 'must contain a visible character';
  return null;
}

// Letters of other scripts, digits and symbols drawn like Latin letters in common fonts: each character of the first
// string passes for the Latin letter at the same place in the second. Mapped before lowercasing, so capitals map by
// their shape ('I' passes for 'l', as do '1' and '|').
const [LOOKS, LIKE] = [
  'АВСЕНІЈКМОРЅТХУԚԜасеһіјорѕхуԁԛԝӏΑΒΕΖΗΙΚΜΝΟΡΤΥΧαικνορυϳI1|0ı',
  'abcehljkmopstxyqwacehijopsxydqwlabezhlkmnoptyxaikvopujllloi',
];
const HOMOGLYPHS = new Map([...LOOKS].map((c, i) => [c, LIKE[i]!]));
const HOMOGLYPH = new RegExp(`[${LOOKS}]`, 'gu');

/**
 * Two names with the same key look the same to a reader, so a room holds one of them: compatibility forms folded
 * (NFKC: "ａｎｎ" is "ann"), homoglyphs mapped, case ignored, and the letter pairs that pass for one ("rn" for "m",
 * "vv" for "w"). Marks stay: "anñ" is not "ann".
 */
export function lookAlikeKey(name: string): string {
  return name
    .normalize('NFKC')
    .replace(HOMOGLYPH, (c) => HOMOGLYPHS.get(c)!)
    .toLowerCase()
    .replace(/rn/g, 'm')
    .replace(/vv/g, 'w');
}
