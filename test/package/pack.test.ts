// The package as a user installs it: `npm pack` of a fresh copy of the repository (prepack builds it), installed
// offline into an empty project. The tarball holds what a user needs and nothing else, installs with no dependency,
// exposes the API with its types, and its `switchboard` command answers, serves and echoes, and exits 0 on SIGTERM.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, type Run, runCli, runProcess, startServe } from '../cli/cli-process.js';
import { assertAllKnown, assertRan, EXAMPLE_TIMEOUT, EXPECTED, exampleFiles } from '../examples/expected.js';
import { skipWithoutRedis, startRedisServer } from '../helpers/redis-server.js';

/** npm as the test runner found it (npm test sets npm_execpath), else the one on PATH. */
const NPM = process.env.npm_execpath;

/** The environment for npm: none of the outer npm's settings, an empty cache of our own, no network wanted. */
function npmEnv(cache: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return {
    ...env,
    npm_config_cache: cache,
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_loglevel: 'warn',
  };
}

const work = mkdtempSync(join(tmpdir(), 'switchboard-pack-'));
const repo = join(work, 'repo');
const app = join(work, 'app');
const env = npmEnv(join(work, 'npm-cache'));
const npm = (args: readonly string[], cwd: string): Promise<Run> =>
  NPM
    ? runProcess(process.execPath, [NPM, ...args], { cwd, env, timeout: 120_000 })
    : runProcess('npm', args, { cwd, env, timeout: 120_000 });
/** Node in the consumer project, where `switchboard` resolves to the installed package. */
const nodeInApp = (args: readonly string[]): Promise<Run> =>
  runProcess(process.execPath, args, { cwd: app, env, timeout: 30_000 });
const installedBin = join(app, 'node_modules', 'switchboard', 'bin', 'switchboard.js');

let packed: { filename: string; files: { path: string }[] } | undefined;
let installed: Run | undefined;

function installedOk(): void {
  assert.ok(packed, 'npm pack produced a tarball');
  assert.equal(installed?.code, 0, `npm install of the tarball failed:\n${installed?.stderr}`);
}

before(
  async () => {
    // A fresh clone: the sources without node_modules, dist or git; the dev tools (tsc) borrowed from this checkout.
    cpSync(ROOT, repo, {
      recursive: true,
      filter: (src) => {
        const top = relative(ROOT, src).split(/[\\/]/)[0] ?? '';
        return !['node_modules', 'dist', '.git'].includes(top) && !top.endsWith('.tgz');
      },
    });
    symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'), 'dir');
    const pack = await npm(['pack', '--json', '--pack-destination', work], repo);
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
    const list = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
    packed = list[0];
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    installed = await npm(['install', '--offline', join(work, packed!.filename)], app);
  },
  { timeout: 300_000 },
);

after(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  it('ships what a user needs and nothing else', () => {
    assert.ok(packed);
    const files = packed.files.map((f) => f.path).sort();
    for (const needed of [
      'package.json',
      'README.md',
      'bin/switchboard.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/adapters/redis.js',
      'dist/src/cli/main.js',
      'dist/apps/demo-server.js',
      'apps/public/chat.html',
      'apps/public/dashboard.html',
    ]) {
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    }
    const allowed =
      /^(package\.json|README\.md|LICENSE|bin\/switchboard\.js|dist\/(src|apps)\/.+|src\/.+\.ts|apps\/.+)$/;
    const unexpected = files.filter((f) => !allowed.test(f) || /tsbuildinfo|\.test\.|^test\/|^bench\//.test(f));
    assert.deepEqual(unexpected, [], 'no tests, bench, build info or stray files');
  });

  it('every source map points at sources that ship too', () => {
    assert.ok(packed);
    const files = new Set(packed.files.map((f) => f.path));
    const maps = [...files].filter((f) => f.endsWith('.map'));
    assert.ok(maps.length > 0);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(repo, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const path = relative(repo, resolve(join(repo, map, '..'), source));
        if (!files.has(path)) missing.push(`${map} → ${path}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('declares no runtime dependency', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies?: object };
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  });
});

describe('the installed package', () => {
  it('installs offline into an empty project, and npm ls --omit=dev shows no dependency under it', async () => {
    installedOk();
    assert.match(installed!.stdout, /added 1 package/);
    const ls = await npm(['ls', '--omit=dev', '--all', '--json'], app);
    assert.equal(ls.code, 0, ls.stderr);
    type Tree = { dependencies?: Record<string, { version?: string; dependencies?: Record<string, Tree> }> };
    const tree = JSON.parse(ls.stdout) as Tree;
    assert.deepEqual(Object.keys(tree.dependencies ?? {}), ['switchboard']);
    // npm lists the optional peers it did not install (redis for --redis, prom-client for /metrics) as empty
    // entries ("UNMET OPTIONAL DEPENDENCY"): none of them may be installed.
    const under = tree.dependencies?.switchboard?.dependencies ?? {};
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    for (const [name, dep] of Object.entries(under)) {
      assert.deepEqual(dep, {}, `${name} is not installed`);
      assert.equal(pkg.peerDependenciesMeta?.[name]?.optional, true, `${name} is an optional peer`);
    }
    const modules = readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.'));
    assert.deepEqual(modules, ['switchboard']);
  });

  it("import('switchboard') gives the API, from the installed copy", async () => {
    installedOk();
    const names = ['WebSocketServer', 'connect', 'Hub', 'CloseCode', 'Connection', 'HandshakeError', 'memoryHistory'];
    const script = `
      const sb = await import('switchboard');
      console.log(JSON.stringify({ from: import.meta.resolve('switchboard'),
        types: Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, typeof sb[n]])) }));`;
    const out = await nodeInApp(['--input-type=module', '-e', script]);
    assert.equal(out.code, 0, out.stderr);
    const { from, types } = JSON.parse(out.stdout) as { from: string; types: Record<string, string> };
    assert.ok(from.includes('/app/node_modules/switchboard/'), from);
    assert.deepEqual(types, {
      WebSocketServer: 'function',
      connect: 'function',
      Hub: 'function',
      CloseCode: 'object',
      Connection: 'function',
      HandshakeError: 'function',
      memoryHistory: 'function',
    });
  });

  it('has types: a strict TypeScript consumer compiles, and a wrong option is a type error', async () => {
    installedOk();
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { CloseCode, connect, Hub, type Message, WebSocketServer } from 'switchboard';
export async function main(): Promise<number> {
  const wss = new WebSocketServer({ origins: ['https://app.example.com'], maxMessageSize: 1 << 20 });
  const hub = new Hub();
  const conn = await connect('ws://127.0.0.1:8080/echo');
  conn.on('message', (msg: Message) => {
    if (msg.type === 'text') hub.publish('room', msg.data);
  });
  hub.subscribe(conn, 'room');
  await wss.close();
  // @ts-expect-error: not a server option — the types are real, not any
  void new WebSocketServer({ maxMessageSise: 1 });
  return CloseCode.Normal;
}
`,
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--exactOptionalPropertyTypes', '--module', 'nodenext'];
    const types = ['--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types')];
    const out = await nodeInApp([tsc, ...flags, '--target', 'es2022', ...types, 'consumer.ts']);
    assert.equal(out.code, 0, `${out.stdout}${out.stderr}`);
  });

  it('npx switchboard --version and serve --help exit 0; a bad flag exits 2 naming it', async () => {
    installedOk();
    const version = await npm(['exec', '--offline', '--', 'switchboard', '--version'], app);
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    const help = await runCli(['serve', '--help'], { bin: installedBin, cwd: app });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--max-message-size BYTES/);
    const bad = await runCli(['serve', '--port', 'eighty'], { bin: installedBin, cwd: app });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port must be a whole number/);
  });

  it('switchboard serve --port 0 serves /echo to the installed connect() and the CLI; SIGTERM exits 0', async (t) => {
    installedOk();
    const served = await startServe(t, ['--host', '127.0.0.1'], { bin: installedBin, cwd: app });
    const url = `ws://127.0.0.1:${served.port}/echo`;
    writeFileSync(
      join(app, 'echo.mjs'),
      `import { connect } from 'switchboard';
const conn = await connect(process.argv[2]);
conn.send('hello from the installed package');
for await (const msg of conn) { console.log(msg.data); break; }
const { code } = await conn.close(1000, 'done');
console.log(code);
`,
    );
    const echo = await nodeInApp(['echo.mjs', url]);
    assert.equal(echo.code, 0, echo.stderr);
    assert.equal(echo.stdout, 'hello from the installed package\n1000\n');
    const cli = await runCli(['connect', url], { bin: installedBin, cwd: app, input: 'and from its CLI\n' });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^< and from its CLI$/m);
    assert.equal(await served.stop(), 0);
  });

  // Each file in examples/ run with node in the consumer project, so that it imports the installed package, and held
  // to what test/examples/expected.ts says it prints. The frameworks and the Redis client the examples use are the
  // app's own dependencies, never switchboard's: linked from this checkout (the install is offline), after the
  // tests above have seen a node_modules holding switchboard alone.
  it('every file in examples/ runs against the installed package', async (t) => {
    installedOk();
    const dir = join(ROOT, 'examples');
    assertAllKnown(dir);
    cpSync(dir, join(app, 'examples'), { recursive: true });
    for (const dep of ['express', 'fastify', 'redis']) {
      symlinkSync(join(ROOT, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
    }
    for (const file of exampleFiles(dir)) {
      const { redis } = EXPECTED[file]!;
      await t.test(file, { skip: redis ? skipWithoutRedis : false }, async (st) => {
        const envOf = redis ? { ...env, REDIS_URL: (await startRedisServer(st)).url } : env;
        const run = await runProcess(process.execPath, [join('examples', file)], {
          cwd: app,
          env: envOf,
          timeout: EXAMPLE_TIMEOUT,
        });
        assertRan(file, run);
      });
    }
  });
});
