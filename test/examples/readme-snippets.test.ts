// README snippets are copies of examples that run: every ```js / ```ts block of README.md (and their long spellings)
// must appear verbatim, leading and trailing whitespace aside, in a file under examples/, which examples.test.ts runs.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../cli/cli-process.js';

interface CodeBlock {
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
}

/** The fenced code blocks of a Markdown text (``` or ~~~ fences, any length of three or more). */
function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const start = i;
    const body: string[] = [];
    // CommonMark: the block ends at a fence of the same character at least as long, or at the end of the text.
    while (++i < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[i]!)) {
      body.push(lines[i]!);
    }
    blocks.push({ lang: open[2]!.toLowerCase(), line: start + 1, code: body.join('\n') });
  }
  return blocks;
}

const SCRIPT_LANGS = new Set(['js', 'javascript', 'mjs', 'ts', 'typescript']);

describe('README.md code snippets', () => {
  it('finds fenced blocks and their languages', () => {
    const blocks = codeBlocks('text\n```ts\nconst a = 1;\n```\n\n````js\n```\nnested\n````\n~~~sh\nls\n~~~\n');
    assert.deepEqual(blocks, [
      { lang: 'ts', line: 2, code: 'const a = 1;' },
      { lang: 'js', line: 6, code: '```\nnested' },
      { lang: 'sh', line: 10, code: 'ls' },
    ]);
  });

  it('every ```js / ```ts block is an excerpt of a file under examples/', () => {
    const dir = join(ROOT, 'examples');
    const sources = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'));
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const snippets = codeBlocks(readme).filter((b) => SCRIPT_LANGS.has(b.lang));
    const strays = snippets
      .filter((b) => !sources.some((source) => source.includes(b.code.trim())))
      .map((b) => `README.md:${b.line} (${b.lang}): ${b.code.trim().split('\n')[0]}`);
    assert.deepEqual(strays, [], 'README snippets not found verbatim in examples/');
  });
});
