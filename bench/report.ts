// Regenerates bench/results/latest.md from a results file, and with --readme the table between the README's
// `<!-- bench:start -->` and `<!-- bench:end -->` markers (printed instead when the markers are missing).
//   node dist/bench/report.js [bench/results/<date>.json] [--readme]
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchResults, renderReadmeSection, renderReport, replaceReadmeSection } from './lib/render.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESULTS = join(ROOT, 'bench', 'results');

/** Replaces the README's bench section, or prints it when the markers are not there. */
export function updateReadme(results: BenchResults): void {
  const section = renderReadmeSection(results);
  const file = join(ROOT, 'README.md');
  const readme = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const next = replaceReadmeSection(readme, section);
  if (next === null) {
    process.stdout.write(
      `README.md has no <!-- bench:start --> / <!-- bench:end --> markers; the section is:\n\n${section}\n`,
    );
    return;
  }
  writeFileSync(file, next);
  process.stdout.write('README.md: bench section updated\n');
}

/** The newest full results file (YYYY-MM-DD.json). */
function newestResults(): string {
  const files = readdirSync(RESULTS)
    .filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort();
  const last = files.at(-1);
  if (!last) throw new Error(`no results in ${RESULTS}; run npm run bench first`);
  return join(RESULTS, last);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { readme: { type: 'boolean', default: false } },
  });
  const file = positionals[0] ? resolve(positionals[0]) : newestResults();
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  if (results.version !== 1) throw new Error(`${file}: unknown results version`);
  writeFileSync(join(RESULTS, 'latest.md'), renderReport(results));
  process.stdout.write(`bench/results/latest.md regenerated from ${file}\n`);
  if (values.readme) updateReadme(results);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`report: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
