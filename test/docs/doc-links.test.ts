// Every relative link of the hand-written docs leads somewhere: the file exists, and an anchor names a heading (as
// GitHub makes its id) or an `<a id>` of the target page, so a renamed API page or member breaks the build, not
// the reader. Reference-style links must have their definition. Web links are not followed (no network in tests).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../cli/cli-process.js';

const DOCS = join(ROOT, 'docs');

/** GitHub's id for a heading: lower case, punctuation dropped (Markdown escapes too), spaces as hyphens. */
function headingId(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

/** The anchors a page offers: its headings' ids (repeats numbered as GitHub does) and explicit `<a id>`s. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutCode(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const id = headingId(m[1]!);
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    anchors.add(n === 0 ? id : `${id}-${n}`);
  }
  for (const m of markdown.matchAll(/<a id="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

/** Fenced code blocks blanked out: a link-like text in code is code. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** The link targets of a page: inline `](target)`, definitions `[label]: target`, and labels used without one. */
function linksOf(markdown: string): { targets: string[]; undefinedLabels: string[] } {
  const text = withoutCode(markdown);
  const definitions = new Map<string, string>();
  for (const m of text.matchAll(/^\[([^\]]+)\]: (\S+)$/gm)) definitions.set(m[1]!.toLowerCase(), m[2]!);
  const inline = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  const used = [...text.matchAll(/\]\[([^\]]+)\]/g)].map((m) => m[1]!);
  return {
    targets: [...inline, ...definitions.values()],
    undefinedLabels: used.filter((label) => !definitions.has(label.toLowerCase())),
  };
}

const pages = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => join(DOCS, f));

describe('docs links', () => {
  it('the readers find ids, anchors and links as GitHub does (sanity check of the checks)', () => {
    assert.equal(headingId('`close()` sends 1000, and returns a promise'), 'close-sends-1000-and-returns-a-promise');
    assert.equal(headingId('\\[asyncIterator\\]()'), 'asynciterator');
    assert.deepEqual(
      [...anchorsOf('# A\n## A\n```\n# not a heading\n```\n| <a id="property-x"></a> |')],
      ['a', 'a-1', 'property-x'],
    );
    assert.deepEqual(linksOf('[a](x.md#y) [b][c] [d][missing]\n\n[c]: z.md\n'), {
      targets: ['x.md#y', 'z.md'],
      undefinedLabels: ['missing'],
    });
  });

  it('lead to files and anchors that exist', () => {
    assert.ok(pages.length >= 2, 'docs/README.md and docs/coming-from-ws.md at least');
    const broken: string[] = [];
    for (const page of pages) {
      const name = relative(ROOT, page);
      const { targets, undefinedLabels } = linksOf(readFileSync(page, 'utf8'));
      for (const label of undefinedLabels) broken.push(`${name}: [${label}] has no definition`);
      for (const target of targets) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? page : join(dirname(page), path);
        if (!existsSync(file)) {
          broken.push(`${name}: ${target}: no such file`);
          continue;
        }
        if (anchor === undefined) continue;
        if (statSync(file).isDirectory() || !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
          broken.push(`${name}: ${target}: no such anchor in ${relative(ROOT, file)}`);
        }
      }
    }
    assert.deepEqual(broken, [], broken.join('\n'));
  });
});
