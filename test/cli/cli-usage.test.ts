// `switchboard` as a newcomer meets it, run as a child process: --help for each command (every flag with its
// default), --version, and exit 2 with a message naming the flag for every kind of usage error.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONNECT } from '../../src/cli/connect.js';
import { SERVE } from '../../src/cli/serve.js';
import { ROOT, runCli } from './cli-process.js';

const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;

describe('switchboard --help and --version', () => {
  for (const flag of ['--version', '-v']) {
    it(`${flag} prints the version from package.json and exits 0`, async () => {
      const run = await runCli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${VERSION}\n`);
      assert.equal(run.stderr, '');
    });
  }

  for (const spec of [SERVE, CONNECT]) {
    for (const flag of ['--help', '-h']) {
      it(`${spec.name} ${flag} describes every flag with its default, on stdout, exit 0`, async () => {
        const run = await runCli([spec.name, flag]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, '');
        assert.match(run.stdout, new RegExp(`^usage: switchboard ${spec.name}`));
        const entries = flagEntries(run.stdout);
        for (const [name, f] of Object.entries(spec.flags) as [string, { default?: string }][]) {
          const entry = entries.get(`--${name}`);
          assert.ok(entry !== undefined, `--${name} is in the help`);
          if (f.default !== undefined) assert.ok(entry.includes(`(default ${f.default})`), `--${name}: ${entry}`);
        }
        for (const line of run.stdout.split('\n')) assert.ok(line.length <= 80, `line over 80 columns: ${line}`);
      });
    }
    it(`help ${spec.name} is the same text as ${spec.name} --help`, async () => {
      const [a, b] = await Promise.all([runCli(['help', spec.name]), runCli([spec.name, '--help'])]);
      assert.equal(a.code, 0);
      assert.equal(a.stdout, b.stdout);
    });
  }

  it('--help lists the commands; no command at all prints the same list on stderr and exits 2', async () => {
    const [help, none] = await Promise.all([runCli(['--help']), runCli([])]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /switchboard serve/);
    assert.match(help.stdout, /switchboard connect <url>/);
    assert.equal(none.code, 2);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /no command given[\s\S]*switchboard serve/);
  });

  it('serve --help says what the defaults are for a public demo: 1MiB messages, heartbeat on, Redis checked', async () => {
    const run = await runCli(['serve', '--help']);
    const text = run.stdout.replace(/\s+/g, ' ');
    assert.match(text, /--max-message-size BYTES .*\(default 1MiB\)/);
    assert.match(text, /--no-heartbeat/);
    assert.match(text, /exits 1 saying why, without listening/);
  });
});

/** The flags section of a help text: each flag (its first word) and its description, wrapped lines joined. */
function flagEntries(help: string): Map<string, string> {
  const entries = new Map<string, string>();
  let current = '';
  for (const line of help.split('\n')) {
    const start = /^ {2}(-\S+)/.exec(line);
    if (start) {
      current = start[1]!.replace(/,$/, '');
      entries.set(current, line.trim());
    } else if (current && /^ {6,}\S/.test(line)) {
      entries.set(current, `${entries.get(current)} ${line.trim()}`);
    } else {
      current = '';
    }
  }
  return entries;
}

// Each: the arguments, and what stderr must say. Every one exits 2 and starts nothing.
const USAGE_ERRORS: readonly [string[], RegExp][] = [
  [['bogus'], /unknown command "bogus"/],
  [['help', 'bogus'], /no help for "bogus"/],
  [['serve', '--prot', '80'], /unknown flag --prot \(did you mean --port\?\)/],
  [['serve', '--port'], /--port needs a value/],
  [['serve', '--port', '--host', 'x'], /--port needs a value/],
  [['serve', '--port', '65536'], /--port must be a whole number from 0 to 65535, got "65536"/],
  [['serve', '--port', '-1'], /--port must be a whole number from 0 to 65535, got "-1"/],
  [['serve', '--port', '80x'], /--port must be a whole number/],
  [['serve', '--port=1.5'], /--port must be a whole number/],
  [['serve', '--port', '1', '--port', '2'], /--port is given more than once/],
  [['serve', 'junk'], /unexpected argument "junk" \(serve takes no arguments\)/],
  [['serve', '--', 'junk'], /unexpected argument "junk"/],
  [['serve', '--host', ''], /--host must be a host name or address/],
  [['serve', '--max-message-size', '-5'], /--max-message-size must be a size in bytes/],
  [['serve', '--max-message-size', 'lots'], /--max-message-size must be a size in bytes/],
  [['serve', '--max-message-size', '0'], /--max-message-size must be from 1 to 1GiB, got "0"/],
  [['serve', '--max-message-size', '2GiB'], /--max-message-size must be from 1 to 1GiB, got "2GiB"/],
  [['serve', '--max-message-size', '16MB'], /--max-message-size must be a size in bytes such as .*16MiB/],
  [['serve', '--compression', 'zstd'], /--compression must be dedicated, shared or off, got "zstd"/],
  [['serve', '--compression-threshold', 'small'], /--compression-threshold must be a size in bytes/],
  [['serve', '--compression-threshold', '-1'], /--compression-threshold must be a size in bytes/],
  [['serve', '--compression-threshold', '2GiB'], /--compression-threshold must be from 0 to 1GiB, got "2GiB"/],
  [['serve', '--compression', 'off', '--compression-threshold', '0'], /--compression-threshold needs --compression/],
  [['serve', '--origin', 'app.example.com'], /--origin must be '\*' or an origin like https:\/\/app.example.com/],
  [['serve', '--shutdown-timeout', '0'], /--shutdown-timeout must be a whole number from 1/],
  [['serve', '--heartbeat-interval', 'soon'], /--heartbeat-interval must be a whole number/],
  [['serve', '--heartbeat-interval', '0'], /--heartbeat-interval must be at least 1; --no-heartbeat turns it off/],
  [['serve', '--heartbeat-timeout', '-3'], /--heartbeat-timeout must be a whole number/],
  [['serve', '--no-heartbeat', '--heartbeat-timeout', '5'], /--no-heartbeat and --heartbeat-timeout contradict/],
  [['serve', '--no-heartbeat=yes'], /--no-heartbeat takes no value, got "yes"/],
  [['serve', '--max-buffered-bytes', '1000'], /--max-buffered-bytes must be from 1MiB to 1GiB, got "1000"/],
  [['serve', '--on-slow-consumer', 'kill'], /--on-slow-consumer must be close or drop, got "kill"/],
  [['serve', '--redis', 'http://127.0.0.1:6379'], /--redis: unsupported scheme "http:"/],
  [['serve', '--redis-wait', '100'], /--redis-wait needs --redis/],
  [['connect'], /connect needs <url>/],
  [['connect', 'ws://a/', 'ws://b/'], /unexpected argument "ws:\/\/b\/"/],
  [['connect', '127.0.0.1:8080/echo'], /not a WebSocket URL \(did you mean ws:\/\/127.0.0.1:8080\/echo\?\)/],
  [['connect', 'localhost:8080/echo'], /not a WebSocket URL \(did you mean ws:\/\/localhost:8080\/echo\?\)/],
  [['connect', 'ws://exa mple/'], /"ws:\/\/exa mple\/" is not a URL/],
  [['connect', 'ftp://127.0.0.1/'], /a WebSocket URL starts with ws:\/\/ or wss:\/\//],
  [['connect', 'ws://127.0.0.1:8080/echo#x'], /cannot have a #fragment/],
  [['connect', 'ws://127.0.0.1:1/', '--compression', 'zstd'], /--compression must be dedicated, shared or off/],
  [['connect', 'ws://127.0.0.1:1/', '--protocol', 'a b'], /--protocol: invalid subprotocol name "a b"/],
  [['connect', 'ws://127.0.0.1:1/', '--protocol', 'x', '--protocol', 'x'], /--protocol: duplicate subprotocol/],
  [['connect', 'ws://127.0.0.1:1/', '--header', 'NoColon'], /--header must look like "Name: value"/],
  [['connect', 'ws://127.0.0.1:1/', '--header', 'Bad Name: v'], /--header must look like "Name: value"/],
  [['connect', 'ws://127.0.0.1:1/', '--header', 'X-Emoji: 🎉'], /--header X-Emoji: the value may hold/],
  [['connect', 'ws://127.0.0.1:1/', '--header', 'Upgrade: h2c'], /header Upgrade is set by the handshake/],
  [['connect', 'ws://127.0.0.1:1/', '--origin', 'evil'], /--origin must be an origin like https:\/\/app/],
  [['connect', 'ws://127.0.0.1:1/', '--bogus'], /unknown flag --bogus/],
];

describe('usage errors exit 2 and name what is wrong', { concurrency: 4 }, () => {
  for (const [args, expected] of USAGE_ERRORS) {
    it(`switchboard ${args.map((a) => (a === '' || /\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`, async () => {
      const run = await runCli(args);
      assert.equal(run.code, 2, `exit code (stderr: ${run.stderr})`);
      assert.match(run.stderr, expected);
      assert.match(run.stderr, /\(see switchboard( serve| connect)? --help\)\n$/);
      assert.equal(run.stdout, '', 'nothing started, nothing printed on stdout');
    });
  }

  it('a control character in a bad argument is shown escaped, not sent to the terminal', async () => {
    const run = await runCli(['connect', 'no\x1b[2Jurl']);
    assert.equal(run.code, 2);
    assert.ok(!run.stderr.includes('\x1b'), 'no raw ESC');
    assert.match(run.stderr, /"no\\x1b\[2Jurl" is not a WebSocket URL/);
  });

  it('sizes take binary units: --max-message-size 16MiB passes, and the next bad flag is the one named', async () => {
    const run = await runCli(['serve', '--max-message-size', '16MiB', '--port', 'x']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--port must be/);
    assert.doesNotMatch(run.stderr, /max-message-size/);
  });
});
