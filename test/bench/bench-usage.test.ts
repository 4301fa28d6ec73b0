// `npm run bench` as a developer meets it: --help prints the flags and exits 0; an unknown flag or a bad value says
// what is wrong with the usage on stderr and exits 2, before any server starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

function bench(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bench flags', () => {
  it('--help lists every flag on stdout and exits 0', () => {
    const r = bench(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--quick', '--rounds', '--only', '--group', '--profile', '--readme']) {
      assert.ok(r.stdout.includes(flag), `${flag} in the usage`);
    }
  });

  for (const [args, said] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--rounds', '0'], /--rounds must be 1\.\.20/],
    [['--group', 'nothing-here'], /no workload is in group "nothing-here"/],
  ] as const) {
    it(`${args.join(' ')} exits 2 and says why, with the usage`, () => {
      const r = bench([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, said);
      assert.match(r.stderr, /usage: npm run bench/);
    });
  }
});
