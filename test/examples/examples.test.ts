// Every program in examples/ run as a user would, `node examples/x.mjs` from the repository (where `switchboard`
// resolves to dist/ through the package's own "exports"): it exits 0 by itself and prints what expected.ts says.
// And each is type-checked by tsc through its `// @ts-check`, against the same types a user's editor sees.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, runProcess } from '../cli/cli-process.js';
import { skipWithoutRedis, startRedisServer } from '../helpers/redis-server.js';
import { assertAllKnown, assertRan, EXAMPLE_TIMEOUT, EXPECTED, exampleFiles } from './expected.js';

const DIR = join(ROOT, 'examples');

describe('examples/', () => {
  it('holds exactly the examples this test knows (each listed in expected.ts)', () => {
    assertAllKnown(DIR);
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file} runs, prints what it should and exits 0`, {
      skip: expected.redis ? skipWithoutRedis : false,
    }, async (t) => {
      const env = { ...process.env };
      if (expected.redis) env.REDIS_URL = (await startRedisServer(t)).url;
      const run = await runProcess(process.execPath, [join('examples', file)], {
        cwd: ROOT,
        env,
        timeout: EXAMPLE_TIMEOUT,
      });
      assertRan(file, run);
    });
  }

  it('every example type-checks (// @ts-check, strict) against the built types', async () => {
    const files = exampleFiles(DIR);
    for (const file of files) {
      assert.match(readFileSync(join(DIR, file), 'utf8'), /^\/\/ @ts-check\n/, `${file} starts with // @ts-check`);
    }
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--allowJs', '--checkJs', '--strict', '--exactOptionalPropertyTypes'];
    const target = ['--module', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck'];
    const run = await runProcess(
      process.execPath,
      [tsc, ...flags, ...target, ...files.map((f) => join('examples', f))],
      {
        cwd: ROOT,
        timeout: 120_000,
      },
    );
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  });
});
