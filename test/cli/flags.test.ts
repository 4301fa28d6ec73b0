// The flag parser and value checks shared by every subcommand, in process: what parses, and what each mistake says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  byteSize,
  type CommandSpec,
  type FlagSpec,
  formatBytes,
  helpText,
  oneOf,
  origin,
  parseArgs,
  UsageError,
  wholeNumber,
} from '../../src/cli/flags.js';

const DEMO = {
  name: 'demo',
  args: '<file>',
  summary: 'A command for the tests.',
  positionals: { min: 0, max: 1 },
  flags: {
    size: { kind: 'value', placeholder: 'BYTES', help: 'a size', default: '1MiB' },
    tag: { kind: 'value', multiple: true, help: 'a tag' },
    quiet: { kind: 'switch', help: 'say less' },
  },
} as const satisfies CommandSpec<Readonly<Record<string, FlagSpec>>>;

const usage = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof UsageError && message.test(err.message));
};

describe('parseArgs', () => {
  it('reads --flag value, --flag=value, repeated flags, switches and positionals', () => {
    const { flags, positionals, help } = parseArgs(DEMO, ['--size', '5', 'f.txt', '--tag=a', '--tag', 'b', '--quiet']);
    assert.equal(help, false);
    assert.deepEqual(flags, { size: '5', tag: ['a', 'b'], quiet: true });
    assert.deepEqual(positionals, ['f.txt']);
  });

  it('gives defaults for what is absent: undefined, [], false', () => {
    assert.deepEqual(parseArgs(DEMO, []).flags, { size: undefined, tag: [], quiet: false });
  });

  it('takes a value that looks like a negative number, so the check can name the range', () => {
    assert.equal(parseArgs(DEMO, ['--size', '-5']).flags.size, '-5');
  });

  it('after --, everything is a positional', () => {
    assert.deepEqual(parseArgs(DEMO, ['--', '--quiet']).positionals, ['--quiet']);
  });

  it('-h or --help anywhere before -- wins over every other mistake', () => {
    assert.equal(parseArgs(DEMO, ['--bogus', '-h']).help, true);
    assert.equal(parseArgs(DEMO, ['x', 'y', '--help']).help, true);
    usage(() => parseArgs(DEMO, ['--', '--help', 'y']), /unexpected argument "y"/);
  });

  it('says what is wrong, naming the flag', () => {
    usage(() => parseArgs(DEMO, ['--sise', '1']), /^unknown flag --sise \(did you mean --size\?\)$/);
    usage(() => parseArgs(DEMO, ['--zzzzzz']), /^unknown flag --zzzzzz$/);
    usage(() => parseArgs(DEMO, ['-q']), /^unknown flag -q \(did you mean --quiet\?\)$/);
    usage(() => parseArgs(DEMO, ['--size']), /^--size needs a value \(--size BYTES\)$/);
    usage(() => parseArgs(DEMO, ['--size', '--quiet']), /^--size needs a value/);
    usage(() => parseArgs(DEMO, ['--size', '1', '--size', '2']), /^--size is given more than once$/);
    usage(() => parseArgs(DEMO, ['--quiet', '--quiet']), /^--quiet is given more than once$/);
    usage(() => parseArgs(DEMO, ['--quiet=no']), /^--quiet takes no value, got "no"$/);
    usage(() => parseArgs(DEMO, ['a', 'b']), /^unexpected argument "b" \(demo takes <file>\)$/);
    usage(() => parseArgs({ ...DEMO, positionals: { min: 1, max: 1 } }, []), /^demo needs <file>$/);
  });

  it('does not take inherited object keys for flags', () => {
    usage(() => parseArgs(DEMO, ['--constructor', 'x']), /^unknown flag --constructor$/);
    usage(() => parseArgs(DEMO, ['--__proto__', 'x']), /^unknown flag --__proto__$/);
  });
});

describe('value checks', () => {
  it('wholeNumber: digits only, within the range', () => {
    const range = { min: 0, max: 65535 };
    assert.equal(wholeNumber('port', undefined, 8080, range), 8080);
    assert.equal(wholeNumber('port', '0', 8080, range), 0);
    assert.equal(wholeNumber('port', '65535', 8080, range), 65535);
    for (const bad of ['65536', '-1', '1e3', '0x10', ' 1', '', '1.0', '99999999999999999999']) {
      usage(() => wholeNumber('port', bad, 8080, range), /^--port must be a whole number from 0 to 65535/);
    }
  });

  it('byteSize: bytes or KiB/MiB/GiB in any case, within the range', () => {
    const range = { min: 1, max: 1024 ** 3 };
    assert.equal(byteSize('max', '16777216', 1, range), 16 * 1024 * 1024);
    assert.equal(byteSize('max', '16MiB', 1, range), 16 * 1024 * 1024);
    assert.equal(byteSize('max', '64kib', 1, range), 64 * 1024);
    assert.equal(byteSize('max', '1GiB', 1, range), 1024 ** 3);
    assert.equal(byteSize('max', '512B', 1, range), 512);
    for (const bad of ['-5', '1.5MiB', '16MB', '16M', 'MiB', '', 'lots']) {
      usage(() => byteSize('max', bad, 1, range), /^--max must be a size in bytes such as/);
    }
    usage(() => byteSize('max', '0', 1, range), /^--max must be from 1 to 1GiB, got "0"$/);
    usage(() => byteSize('max', '1025MiB', 1, range), /^--max must be from 1 to 1GiB/);
  });

  it('formatBytes: whole units, else bytes', () => {
    assert.equal(formatBytes(1024 * 1024), '1MiB');
    assert.equal(formatBytes(8 * 1024 * 1024), '8MiB');
    assert.equal(formatBytes(1536), '1536');
    assert.equal(formatBytes(1), '1');
  });

  it('oneOf lists the choices', () => {
    assert.equal(oneOf('policy', 'drop', 'close', ['close', 'drop']), 'drop');
    usage(() => oneOf('policy', 'kill', 'close', ['close', 'drop']), /^--policy must be close or drop, got "kill"$/);
  });

  it("origin: a full origin (normalised), or '*' where allowed", () => {
    assert.equal(origin('origin', 'https://App.Example.com/', true), 'https://app.example.com');
    assert.equal(origin('origin', '*', true), '*');
    usage(() => origin('origin', '*', false), /^--origin must be an origin like/);
    usage(() => origin('origin', 'app.example.com', true), /^--origin must be '\*' or an origin like/);
    usage(() => origin('origin', 'file:///etc', true), /--origin must be/);
  });
});

describe('helpText', () => {
  it('shows every flag, its placeholder, default and repeatability, within 80 columns', () => {
    const text = helpText(DEMO);
    assert.match(text, /^usage: switchboard demo <file> \[flags\]\n/);
    assert.match(text, /--size BYTES +a size \(default 1MiB\)/);
    assert.match(text, /--tag VALUE +a tag; repeatable/);
    assert.match(text, /--quiet +say less/);
    assert.match(text, /-h, --help +show this help/);
    for (const line of text.split('\n')) assert.ok(line.length <= 80, line);
  });
});
