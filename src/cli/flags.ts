// Command-line flags for every subcommand: one declarative spec per command gives both the parser and its --help,
// and every mistake becomes a UsageError (exit 2) that names the flag and says what is wrong.

/** Bad usage: main prints the message and exits 2. */
export class UsageError extends Error {}

export interface FlagSpec {
  /** 'value' flags take one argument (`--port 80` or `--port=80`); 'switch' flags take none. */
  readonly kind: 'value' | 'switch';
  /** May be given more than once; the values are kept in order. */
  readonly multiple?: boolean;
  /** What the value is, in help: BYTES, MS, URL... */
  readonly placeholder?: string;
  /** The default, as help shows it. */
  readonly default?: string;
  readonly help: string;
}

export interface CommandSpec<F extends Readonly<Record<string, FlagSpec>>> {
  readonly name: string;
  /** What follows the command name in the usage line, e.g. '<url>'. */
  readonly args: string;
  readonly summary: string;
  readonly positionals: { readonly min: number; readonly max: number };
  readonly flags: F;
  /** Paragraphs printed after the flags. */
  readonly notes?: readonly string[];
}

export type FlagValues<F> = {
  readonly [K in keyof F]: F[K] extends { kind: 'switch' }
    ? boolean
    : F[K] extends { multiple: true }
      ? string[]
      : string | undefined;
};

export interface ParsedArgs<F> {
  /** `-h` or `--help` was given: nothing else was checked. */
  readonly help: boolean;
  readonly flags: FlagValues<F>;
  readonly positionals: readonly string[];
}

const HELP_FLAGS = new Set(['-h', '--help']);

export function parseArgs<F extends Readonly<Record<string, FlagSpec>>>(
  command: CommandSpec<F>,
  argv: readonly string[],
): ParsedArgs<F> {
  const values: Record<string, string | string[] | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(command.flags)) {
    values[name] = spec.kind === 'switch' ? false : spec.multiple ? [] : undefined;
  }
  const end = argv.indexOf('--');
  const flagArgs = end === -1 ? argv : argv.slice(0, end);
  if (flagArgs.some((arg) => HELP_FLAGS.has(arg))) {
    return { help: true, flags: values as FlagValues<F>, positionals: [] };
  }
  const positionals: string[] = [];
  for (let i = 0; i < flagArgs.length; i++) {
    const arg = flagArgs[i]!;
    if (!isFlag(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const name = flag.startsWith('--') ? flag.slice(2) : '';
    const spec = Object.hasOwn(command.flags, name) ? command.flags[name] : undefined;
    if (!spec) throw new UsageError(unknownFlag(flag, Object.keys(command.flags)));
    if (spec.kind === 'switch') {
      if (eq !== -1) throw new UsageError(`${flag} takes no value, got "${arg.slice(eq + 1)}"`);
      if (values[name] === true) throw new UsageError(`${flag} is given more than once`);
      values[name] = true;
      continue;
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      const next = flagArgs[i + 1];
      if (next === undefined || isFlag(next)) {
        throw new UsageError(`${flag} needs a value (${flag} ${spec.placeholder ?? 'VALUE'})`);
      }
      value = next;
      i++;
    }
    const previous = values[name];
    if (Array.isArray(previous)) previous.push(value);
    else if (previous !== undefined) throw new UsageError(`${flag} is given more than once`);
    else values[name] = value;
  }
  if (end !== -1) positionals.push(...argv.slice(end + 1));
  checkPositionals(command, positionals);
  return { help: false, flags: values as FlagValues<F>, positionals };
}

/** A negative number is a (bad) value, not a flag: `--port -1` should say the port is out of range. */
function isFlag(arg: string): boolean {
  return arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg);
}

function checkPositionals(command: CommandSpec<Readonly<Record<string, FlagSpec>>>, positionals: readonly string[]) {
  const { min, max } = command.positionals;
  if (positionals.length > max) {
    const extra = positionals.slice(max).map((p) => `"${p}"`);
    const takes = max === 0 ? 'takes no arguments' : `takes ${command.args}`;
    throw new UsageError(`unexpected argument ${extra.join(', ')} (${command.name} ${takes})`);
  }
  if (positionals.length < min) throw new UsageError(`${command.name} needs ${command.args}`);
}

function unknownFlag(flag: string, known: readonly string[]): string {
  const name = flag.replace(/^-+/, '');
  const close = known.filter((k) => k.startsWith(name) || editDistance(k, name) <= 2);
  const hint = close.length > 0 ? ` (did you mean ${close.map((k) => `--${k}`).join(' or ')}?)` : '';
  return `unknown flag ${flag}${hint}`;
}

/** Levenshtein distance, for "did you mean": flag names are short, so the quadratic table is fine. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}

/** Help is laid out for an 80-column terminal. */
const HELP_WIDTH = 80;

export function helpText(command: CommandSpec<Readonly<Record<string, FlagSpec>>>): string {
  const rows: [string, string][] = Object.entries(command.flags).map(([name, spec]) => [
    spec.kind === 'value' ? `--${name} ${spec.placeholder ?? 'VALUE'}` : `--${name}`,
    `${spec.help}${spec.multiple ? '; repeatable' : ''}${spec.default === undefined ? '' : ` (default ${spec.default})`}`,
  ]);
  rows.push(['-h, --help', 'show this help']);
  const left = Math.min(28, Math.max(...rows.map(([flag]) => flag.length)) + 2);
  const lines = rows.map(([flag, text]) => {
    const body = wrap(text, HELP_WIDTH - left - 2).join(`\n${' '.repeat(left + 2)}`);
    return flag.length + 2 > left ? `  ${flag}\n${' '.repeat(left + 2)}${body}` : `  ${flag.padEnd(left)}${body}`;
  });
  const paragraphs = [command.summary, ...(command.notes ?? [])].map((p) => wrap(p, HELP_WIDTH).join('\n'));
  const usage = `usage: switchboard ${command.name}${command.args ? ` ${command.args}` : ''} [flags]`;
  return `${usage}\n\n${paragraphs[0]}\n\nflags:\n${lines.join('\n')}\n${paragraphs
    .slice(1)
    .map((p) => `\n${p}\n`)
    .join('')}`;
}

/** Greedy word wrap; a word longer than the width gets a line of its own. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines;
}

// ---- Values ----------------------------------------------------------------------------------------------------

const UNITS = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 } as const;

/** 1048576 → '1MiB'; sizes that are not a whole number of a unit stay in bytes. */
export function formatBytes(n: number): string {
  for (const [unit, scale] of [
    ['GiB', UNITS.gib],
    ['MiB', UNITS.mib],
    ['KiB', UNITS.kib],
  ] as const) {
    if (n >= scale && n % scale === 0) return `${n / scale}${unit}`;
  }
  return String(n);
}

export interface Range {
  readonly min: number;
  readonly max: number;
}

/** A whole number in [min, max]; `fallback` when the flag was not given. */
export function wholeNumber(flag: string, value: string | undefined, fallback: number, range: Range): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${flag} must be a whole number from ${range.min} to ${range.max}, got "${value}"`);
  }
  return n;
}

/** A size in bytes: 1048576, or with a binary unit: 64KiB, 16MiB, 1GiB (the unit in any case). */
export function byteSize(flag: string, value: string | undefined, fallback: number, range: Range): number {
  if (value === undefined) return fallback;
  const m = /^(\d+)\s*(b|kib|mib|gib)?$/i.exec(value);
  const scale = m ? UNITS[(m[2]?.toLowerCase() ?? 'b') as keyof typeof UNITS] : 0;
  const n = m ? Number(m[1]) * scale : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`--${flag} must be a size in bytes such as 1048576, 64KiB or 16MiB, got "${value}"`);
  }
  if (n < range.min || n > range.max) {
    throw new UsageError(
      `--${flag} must be from ${formatBytes(range.min)} to ${formatBytes(range.max)}, got "${value}"`,
    );
  }
  return n;
}

/** One of a few words. */
export function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  fallback: T,
  choices: readonly T[],
): T {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${flag} must be ${choices.join(', ').replace(/, ([^,]*)$/, ' or $1')}, got "${value}"`);
}

/** `--compression dedicated|shared|off`, as the library's compression option. */
export function compression(value: string | undefined): 'dedicated' | 'shared' | false {
  const choice = oneOf('compression', value, 'dedicated', ['dedicated', 'shared', 'off']);
  return choice === 'off' ? false : choice;
}

/** '*' or a full origin such as https://app.example.com (scheme included, nothing after the port). */
export function origin(flag: string, value: string, allowAny: boolean): string {
  if (allowAny && value === '*') return value;
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {}
  if (!parsed || parsed.origin === 'null') {
    const any = allowAny ? "'*' or " : '';
    throw new UsageError(`--${flag} must be ${any}an origin like https://app.example.com, got "${value}"`);
  }
  return parsed.origin;
}
