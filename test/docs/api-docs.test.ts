// The API reference in docs/api/ is what TypeDoc makes of the TSDoc today, byte for byte, so it cannot go stale; and
// TypeDoc's gate (typedoc.json: warnings are errors, every export documented, no unreachable type, no broken link)
// really fails a project that breaks it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, type Run, runProcess } from '../cli/cli-process.js';

const TYPEDOC = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
const COMMITTED = join(ROOT, 'docs', 'api');
const work = mkdtempSync(join(tmpdir(), 'switchboard-api-docs-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** TypeDoc run from the repository root; a run takes ~5–8 s on this project (two cores shared with other tests). */
function typedoc(args: readonly string[]): Promise<Run> {
  return runProcess(process.execPath, [TYPEDOC, ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
}

/** Every file under `dir`, as paths relative to it ('/'-separated), sorted. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

describe('API reference (docs/api/)', () => {
  it('equals what `npm run docs` generates now, byte for byte', async () => {
    const out = join(work, 'api');
    const run = await typedoc(['--out', out]);
    assert.equal(run.code, 0, `TypeDoc failed (its warnings are errors):\n${run.stdout}${run.stderr}`);
    const generated = filesUnder(out);
    const committed = filesUnder(COMMITTED);
    const differences = [
      ...generated.filter((f) => !committed.includes(f)).map((f) => `new, not committed: docs/api/${f}`),
      ...committed.filter((f) => !generated.includes(f)).map((f) => `committed, no longer generated: docs/api/${f}`),
      ...generated
        .filter((f) => committed.includes(f))
        .filter((f) => !readFileSync(join(out, f)).equals(readFileSync(join(COMMITTED, f))))
        .map((f) => `differs: docs/api/${f}`),
    ];
    assert.deepEqual(
      differences,
      [],
      `docs/api/ is stale: run npm run docs and commit the result.\n${differences.join('\n')}`,
    );
    assert.ok(generated.includes('README.md') && generated.length > 50, `a suspiciously small reference: ${generated}`);
  });

  it("fails on an undocumented export, a type the reader cannot reach and a broken {@link} (the gate's own check)", async () => {
    // A project of its own (TypeDoc names symbols by package), documented with the project's options.
    const fixture = join(work, 'fixture');
    mkdirSync(fixture);
    const files: Record<string, string> = {
      'package.json': JSON.stringify({ name: 'fixture', type: 'module' }),
      'tsconfig.json': JSON.stringify({
        compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', types: [], noEmit: true },
        include: ['*.ts'],
      }),
      'typedoc.json': JSON.stringify({
        extends: [join(ROOT, 'typedoc.json')],
        tsconfig: './tsconfig.json',
        entryPoints: ['./entry.ts'],
        out: './out',
        intentionallyNotExported: [],
      }),
      'hidden.ts':
        '/** Not exported by the entry point. */\nexport interface Hidden {\n  /** A number. */\n  x: number;\n}\n',
      'entry.ts': [
        "import type { Hidden } from './hidden.js';",
        'export function undocumented(): void {}',
        '/** Takes a type the reader cannot reach. */',
        'export function reaches(h: Hidden): number {',
        '  return h.x;',
        '}',
        '/** Links to {@link Nowhere}. */',
        'export const linked = 1;',
        '',
      ].join('\n'),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(fixture, name), text);
    const run = await typedoc(['--options', join(fixture, 'typedoc.json')]);
    const output = run.stdout + run.stderr;
    assert.notEqual(run.code, 0, `TypeDoc accepted the fixture:\n${output}`);
    assert.match(output, /undocumented .*does not have any documentation/);
    assert.match(output, /Hidden, defined in .* is referenced by reaches\.h but not included in the documentation/);
    assert.match(output, /Failed to resolve link to "Nowhere"/);
  });
});
