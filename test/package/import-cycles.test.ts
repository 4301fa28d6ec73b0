// No import cycles in what the package runs: the compiled src/ and apps/ (static imports, re-exports and dynamic
// import() of relative paths). Type-only imports are erased by tsc, so the compiled JavaScript is the real graph.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** dist/test/package → dist. */
const DIST = fileURLToPath(new URL('../../', import.meta.url));

function jsFiles(dir: string): string[] {
  // Walked by hand: Dirent.parentPath is newer than the oldest Node 20 that `engines` allows.
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return jsFiles(path);
    return e.isFile() && e.name.endsWith('.js') ? [path] : [];
  });
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s*(?:[\w*{}\s,$]*\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Each file's relative imports, as absolute paths. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    graph.set(
      file,
      [...source.matchAll(IMPORT)].map((m) => resolve(dirname(file), (m[1] ?? m[2])!)),
    );
  }
  return graph;
}

/** Every cycle found by a depth-first search, each as the files in order, the first repeated at the end. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('import cycles', () => {
  it('the finder finds a cycle and reads every import form (sanity check of the check itself)', () => {
    const graph = new Map([
      ['/a.js', ['/b.js']],
      ['/b.js', ['/c.js']],
      ['/c.js', ['/a.js']],
      ['/d.js', ['/a.js']],
    ]);
    assert.deepEqual(findCycles(graph), [['/a.js', '/b.js', '/c.js', '/a.js']]);
    const forms = [
      "import { a } from './a.js';",
      "import * as b from './b.js';",
      "import './c.js';",
      "export { d } from '../d.js';",
      "export * from './e.js';",
      "const f = await import('./f.js');",
      "import x, { y } from './g.js';",
    ].join('\n');
    const found = [...forms.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
    assert.deepEqual(found, ['./a.js', './b.js', './c.js', '../d.js', './e.js', './f.js', './g.js']);
  });

  it('none among the compiled src/ and apps/ (the CLI included)', () => {
    const files = [...jsFiles(join(DIST, 'src')), ...jsFiles(join(DIST, 'apps'))];
    assert.ok(files.length > 20, `found ${files.length} files`);
    const cycles = findCycles(importGraph(files)).map((c) => c.map((f) => relative(DIST, f)).join(' → '));
    assert.deepEqual(cycles, []);
  });
});
