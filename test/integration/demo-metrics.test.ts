// prom-client is an optional peer dependency of the demo (apps/metrics.ts): without it `switchboard serve` still runs,
// says so once at start, and GET /metrics answers 501 with how to enable it; with it, /metrics is served (demo-apps).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createMetrics, MISSING_PROM_CLIENT } from '../../apps/metrics.js';
import { startTestDemo } from '../helpers/demo.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const noSources = { endpoints: () => ({}), hubs: () => ({}) };

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

describe('demo metrics without prom-client', () => {
  test('the package has no runtime dependencies; prom-client is an optional peer, pinned for the repo itself', async () => {
    const pkg = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as Record<string, Record<string, unknown>>;
    assert.equal(pkg.dependencies, undefined);
    assert.ok(pkg.peerDependencies?.['prom-client']);
    assert.deepEqual(pkg.peerDependenciesMeta?.['prom-client'], { optional: true });
    assert.match(String(pkg.devDependencies?.['prom-client']), /^\d+\.\d+\.\d+$/);
  });

  test('createMetrics with a loader that finds nothing: unavailable, and render() says how to enable it', async () => {
    const metrics = await createMetrics(noSources, async () => null);
    assert.equal(metrics.available, false);
    assert.match(await metrics.render(), /npm install prom-client/);
    assert.equal((await createMetrics(noSources)).available, true, 'the repo’s own devDependency is found');
  });

  test('the demo server without prom-client: one notice, /metrics 501 with the hint, the rest served', async (t) => {
    const notices: string[] = [];
    const demo = await startTestDemo({ promClient: async () => null, log: (line) => notices.push(line) });
    t.after(() => demo.close());
    assert.deepEqual(notices, [MISSING_PROM_CLIENT]);
    const metrics = await get(`${demo.url}/metrics`);
    assert.equal(metrics.status, 501);
    assert.match(metrics.type, /^text\/plain/);
    assert.match(metrics.body, /npm install prom-client/);
    assert.equal((await get(`${demo.url}/health`)).status, 200);
    assert.equal((await get(`${demo.url}/`)).status, 200);
  });

  test('`switchboard serve` in a process where prom-client cannot be resolved still serves', async (t) => {
    // A resolve hook makes the package unresolvable, exactly as when it is not installed. In-thread hooks
    // (registerHooks) where Node has them: Node 26 deprecates the off-thread register() with a warning on stderr.
    const refuse = `if (s === 'prom-client') throw Object.assign(new Error("Cannot find package 'prom-client'"), { code: 'ERR_MODULE_NOT_FOUND' });`;
    const hook = `export async function resolve(s, c, next) { ${refuse} return next(s, c); }`;
    const register = `import * as m from 'node:module';
      if (m.registerHooks) m.registerHooks({ resolve(s, c, next) { ${refuse} return next(s, c); } });
      else m.register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        `data:text/javascript,${encodeURIComponent(register)}`,
        'bin/switchboard.js',
        'serve',
        '--port',
        '0',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = /listening on (http:\/\/\S+)/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stdout}${stderr}`)));
    });
    assert.equal(stderr.trim(), MISSING_PROM_CLIENT, 'one line at start');
    const metrics = await get(`${url}/metrics`);
    assert.equal(metrics.status, 501);
    assert.match(metrics.body, /npm install prom-client/);
    assert.equal((await get(`${url}/`)).status, 200);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });
});
