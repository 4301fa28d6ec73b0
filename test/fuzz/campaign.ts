// `npm run fuzz`: a long fuzz campaign, or the replay of one failure.
//   npm run fuzz -- --time 600                 every property in turn, fresh seeds, for 600 s
//   npm run fuzz -- --property wire --runs 5000 --seed 7
//   npm run fuzz -- --property api --seed N --path P    replays (and re-shrinks) a reported failure
// Prints each round's seed up front, every failure with its seed, path and shrunk case, and a summary line.
import { parseArgs } from 'node:util';
import { PROPERTIES, type PropertyName, runProperty } from './properties.js';

const ROUND_MS = 60_000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      property: { type: 'string' },
      seed: { type: 'string' },
      path: { type: 'string' },
      time: { type: 'string' },
      runs: { type: 'string' },
    },
  });
  const names = (values.property ? values.property.split(',') : Object.keys(PROPERTIES)) as PropertyName[];
  for (const n of names)
    if (!(n in PROPERTIES)) throw new TypeError(`--property: unknown ${n} (${Object.keys(PROPERTIES).join(', ')})`);
  const seed0 = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed0)) throw new TypeError('--seed must be an integer');
  let cases = 0;
  const failures: string[] = [];
  const unconfirmed: string[] = [];
  const perProperty: Record<string, number> = {};
  const started = performance.now();

  if (values.path !== undefined || values.time === undefined) {
    // A fixed job: one run per property with this seed (a replay when --path is given).
    if (values.path !== undefined && names.length !== 1) throw new TypeError('--path replays one --property');
    const numRuns = values.runs !== undefined ? Number(values.runs) : 1000;
    for (const name of names) {
      process.stdout.write(
        `fuzz ${name}: seed ${seed0}${values.path ? ` path ${values.path}` : ''}, ${numRuns} runs\n`,
      );
      const r = await runProperty(name, {
        seed: seed0,
        numRuns,
        ...(values.path !== undefined ? { path: values.path } : {}),
      });
      cases += r.cases;
      perProperty[name] = (perProperty[name] ?? 0) + r.cases;
      unconfirmed.push(...r.unconfirmedStalls);
      if (r.failure) failures.push(r.failure);
    }
  } else {
    // A time budget: rounds of up to a minute per property, each with its own seed, until the budget is spent.
    const budget = Number(values.time) * 1000;
    if (!(budget > 0)) throw new TypeError('--time takes seconds > 0');
    for (let round = 0; performance.now() - started < budget; round++) {
      for (const name of names) {
        const left = budget - (performance.now() - started);
        if (left <= 0) break;
        const seed = (seed0 + round * names.length + names.indexOf(name)) % 2 ** 31;
        process.stdout.write(`fuzz ${name}: round ${round + 1}, seed ${seed}\n`);
        const r = await runProperty(name, { seed, numRuns: 1_000_000, timeLimitMs: Math.min(ROUND_MS, left) });
        cases += r.cases;
        perProperty[name] = (perProperty[name] ?? 0) + r.cases;
        unconfirmed.push(...r.unconfirmedStalls);
        if (r.failure) {
          failures.push(r.failure);
          process.stdout.write(`${r.failure}\n`);
        }
      }
    }
  }
  for (const f of failures) process.stdout.write(`\nFAILURE ${f}\n`);
  for (const s of unconfirmed) process.stdout.write(`stall not repeated by a replay (the machine's): ${s}\n`);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const split = Object.entries(perProperty)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  process.stdout.write(
    `fuzz: ${cases} cases (${split}) in ${seconds} s, ${failures.length} failures, ${unconfirmed.length} unconfirmed stalls\n`,
  );
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
