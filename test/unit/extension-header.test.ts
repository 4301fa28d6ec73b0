// Sec-WebSocket-Extensions parsing and formatting (RFC 6455 §9.1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatExtension, parseExtensions } from '../../src/handshake/extension-header.js';

describe('parseExtensions', () => {
  it('parses a bare extension', () => {
    assert.deepEqual(parseExtensions('permessage-deflate'), [{ name: 'permessage-deflate', params: [] }]);
  });

  it('parses params with and without values, in order', () => {
    assert.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits=10'), [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
    ]);
  });

  it('parses several extensions, including repeats of one name', () => {
    const got = parseExtensions('permessage-deflate; server_max_window_bits=8, permessage-deflate, x-foo;a=b');
    assert.deepEqual(
      got.map((e) => e.name),
      ['permessage-deflate', 'permessage-deflate', 'x-foo'],
    );
    assert.deepEqual(got[2]?.params, [['a', 'b']]);
  });

  it('keeps duplicate params (RFC 7692 §5 makes such an offer invalid, which is the caller’s call)', () => {
    assert.deepEqual(parseExtensions('e; a; a=1')[0]?.params, [
      ['a', true],
      ['a', '1'],
    ]);
  });

  it('tolerates whitespace and tabs around every separator', () => {
    const got = parseExtensions(
      ' \tpermessage-deflate \t;\t client_max_window_bits \t= \t9 ;server_no_context_takeover ,  b ',
    );
    assert.deepEqual(got, [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', '9'],
          ['server_no_context_takeover', true],
        ],
      },
      { name: 'b', params: [] },
    ]);
  });

  it('unquotes quoted-string values and their escapes', () => {
    assert.deepEqual(parseExtensions('e; a="10"; b="1\\5"; c="x"')[0]?.params, [
      ['a', '10'],
      ['b', '15'],
      ['c', 'x'],
    ]);
  });

  it('skips empty list elements (RFC 7230 §7) and returns [] for an empty value', () => {
    assert.deepEqual(parseExtensions(''), []);
    assert.deepEqual(parseExtensions('  '), []);
    assert.deepEqual(parseExtensions(', a ,, b,'), [
      { name: 'a', params: [] },
      { name: 'b', params: [] },
    ]);
  });

  it('preserves the case of names (comparison is the caller’s business)', () => {
    assert.equal(parseExtensions('PerMessage-Deflate')[0]?.name, 'PerMessage-Deflate');
  });

  const malformed: Array<[string, string]> = [
    [';', 'param without an extension'],
    ['a;', 'trailing semicolon'],
    ['a; ;b', 'empty param'],
    ['a=1', 'value on an extension name'],
    ['a; b=', 'missing value'],
    ['a; b= ;c', 'missing value before ;'],
    ['a; b="1', 'unterminated quoted-string'],
    ['a; b="1\\', 'unterminated escape'],
    ['a; b="1 2"', 'quoted value that is not a token'],
    ['a; b=""', 'empty quoted value'],
    ['a; b="\\""', 'escaped quote yields a non-token'],
    ['a b', 'two tokens without a separator'],
    ['a; b=1 2', 'two value tokens'],
    ['a; b=@', 'separator as a value'],
    ['"a"', 'quoted extension name'],
    ['a; "b"', 'quoted param name'],
    ['a; b==1', 'double equals'],
    ['a(b)', 'parenthesis'],
    ['a;b=1;c=d"e"', 'quote inside a token'],
    ['é', 'non-ASCII'],
    ['a\u0000', 'NUL'],
    ['a;\r\n b', 'CRLF'],
  ];
  for (const [value, what] of malformed) {
    it(`rejects ${what}: ${JSON.stringify(value)}`, () => {
      assert.throws(() => parseExtensions(value), SyntaxError);
    });
  }

  it('names the offset in the error', () => {
    assert.throws(() => parseExtensions('abc; d=@'), /offset 7/);
  });
});

describe('formatExtension', () => {
  it('formats names, bare params and values', () => {
    assert.equal(formatExtension('permessage-deflate'), 'permessage-deflate');
    assert.equal(
      formatExtension('permessage-deflate', [
        ['server_no_context_takeover', true],
        ['server_max_window_bits', 10],
        ['client_max_window_bits', '9'],
      ]),
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
  });

  it('round-trips through parseExtensions', () => {
    const params: Array<[string, string | true]> = [
      ['a', true],
      ['b', 'x.y'],
      ['a', '1'],
    ];
    assert.deepEqual(parseExtensions(formatExtension('x-ext', params)), [{ name: 'x-ext', params }]);
  });

  it('throws TypeError for non-token names and values', () => {
    assert.throws(() => formatExtension('a b'), TypeError);
    assert.throws(() => formatExtension(''), TypeError);
    assert.throws(() => formatExtension('a', [['b;', true]]), TypeError);
    assert.throws(() => formatExtension('a', [['b', 'x y']]), TypeError);
    assert.throws(() => formatExtension('a', [['b', '']]), TypeError);
  });
});
