// The snippets the docs quote are real programs: docs/snippets/*.mjs type-check against the built package (tsc with
// checkJs), each runs to completion against a real server on 127.0.0.1 (its own asserts pass), and every block a page
// quotes with `<!-- snippet: file#region -->` is that region of the file, character for character.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, runProcess } from '../cli/cli-process.js';

const DOCS = join(ROOT, 'docs');
const SNIPPETS = join(DOCS, 'snippets');
const snippetFiles = readdirSync(SNIPPETS)
  .filter((f) => f.endsWith('.mjs'))
  .sort();
/** The hand-written pages (docs/api/ is generated, and checked by api-docs.test.ts). */
const pages = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .sort();

/** The regions of a snippet (`// #region name` … `// #endregion name`), dedented, by name. */
function regionsOf(source: string): Map<string, string> {
  const regions = new Map<string, string>();
  const lines = source.split('\n');
  for (const [start, line] of lines.entries()) {
    const name = /^\s*\/\/ #region (\S+)\s*$/.exec(line)?.[1];
    if (name === undefined) continue;
    const end = lines.findIndex((l, i) => i > start && new RegExp(`^\\s*// #endregion ${name}\\s*$`).test(l));
    assert.ok(end > start, `#region ${name} has no #endregion`);
    const body = lines.slice(start + 1, end);
    const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
    regions.set(name, body.map((l) => l.slice(indent)).join('\n'));
  }
  return regions;
}

/** Each `<!-- snippet: file#region -->` marker of a page and the fenced block right after it. */
function quotesOf(page: string): { file: string; region: string; block: string | null }[] {
  const quotes = [];
  for (const m of page.matchAll(/<!-- snippet: ([^#\s]+)#(\S+) -->\n(?:```\w*\n([\s\S]*?)\n```)?/g)) {
    quotes.push({ file: m[1]!, region: m[2]!, block: m[3] ?? null });
  }
  return quotes;
}

describe('docs snippets', () => {
  it('the region and quote readers find what they should (sanity check of the checks)', () => {
    const regions = regionsOf('a\n  // #region r\n  x();\n    y();\n  // #endregion r\nb\n');
    assert.deepEqual([...regions], [['r', 'x();\n  y();']]);
    const quotes = quotesOf('<!-- snippet: s.mjs#r -->\n```js\nx();\n```\n\n<!-- snippet: s.mjs#q -->\ntext\n');
    assert.deepEqual(quotes, [
      { file: 's.mjs', region: 'r', block: 'x();' },
      { file: 's.mjs', region: 'q', block: null },
    ]);
  });

  it('type-check against the built package (run npm run build first)', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = await runProcess(process.execPath, [tsc, '-p', join(SNIPPETS, 'tsconfig.json')], { timeout: 60_000 });
    assert.equal(run.code, 0, `tsc found errors in docs/snippets:\n${run.stdout}${run.stderr}`);
  });

  for (const file of snippetFiles) {
    it(`${file} runs to completion`, async () => {
      const run = await runProcess(process.execPath, [join(SNIPPETS, file)], { timeout: 20_000 });
      assert.equal(run.code, 0, `node docs/snippets/${file} exited with ${run.code}:\n${run.stdout}${run.stderr}`);
    });
  }

  it('every quoted block is its region, and every region is quoted', () => {
    const unquoted = new Set<string>();
    const regions = new Map<string, string>();
    for (const file of snippetFiles) {
      for (const [name, text] of regionsOf(readFileSync(join(SNIPPETS, file), 'utf8'))) {
        regions.set(`snippets/${file}#${name}`, text);
        unquoted.add(`snippets/${file}#${name}`);
      }
    }
    const problems: string[] = [];
    for (const page of pages) {
      for (const q of quotesOf(readFileSync(join(DOCS, page), 'utf8'))) {
        const key = `${q.file}#${q.region}`;
        const text = regions.get(key);
        unquoted.delete(key);
        if (text === undefined) problems.push(`docs/${page} quotes ${key}, which does not exist`);
        else if (q.block === null) problems.push(`docs/${page}: no fenced block after the marker of ${key}`);
        else if (q.block !== text)
          problems.push(`docs/${page} quotes ${key} as:\n${q.block}\nbut the file says:\n${text}`);
      }
    }
    for (const key of unquoted) problems.push(`${key} is quoted by no page (remove the region, or quote it)`);
    assert.deepEqual(problems, [], problems.join('\n\n'));
  });
});
