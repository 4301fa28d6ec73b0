// The real `bin/switchboard.js` in a child process, for CLI tests: run it to completion, or start `serve` and learn
// its port from the "listening on" line.
import { type ChildProcess, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** dist/test/cli → the repository root, where bin/switchboard.js lives. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = `${ROOT}bin/switchboard.js`;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then ended; by default stdin is ended at once. */
  input?: string;
  /** Keep stdin open (the child sees no end of input) until the child exits. */
  keepStdinOpen?: boolean;
  timeout?: number;
  /** Another executable for `bin` (an installed package's), run with this node. */
  bin?: string;
  cwd?: string;
}

/** Runs `switchboard ...args` to completion; a run that outlives `timeout` is killed and rejects. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return runProcess(process.execPath, [options.bin ?? BIN, ...args], options);
}

/** Runs any command to completion, its output collected; killed (and rejecting) past `timeout`. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: RunOptions & { env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  if (!options.keepStdinOpen) child.stdin.end(options.input ?? '');
  const timeout = options.timeout ?? 15_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit within ${timeout} ms\n${stdout}\n${stderr}`));
    }, timeout);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Served {
  child: ChildProcess;
  port: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the output matches `pattern`. */
  waitForOutput(pattern: RegExp, timeout?: number): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `switchboard serve --port 0 ...args` and waits for its "listening on" line; killed after the test. */
export async function startServe(t: TestContext, args: readonly string[], options: RunOptions = {}): Promise<Served> {
  const child = spawn(process.execPath, [options.bin ?? BIN, 'serve', '--port', '0', ...args], {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: string): void => {
    out += d;
    for (const l of listeners) l();
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitForOutput = (pattern: RegExp, timeout = 15_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(out)) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${pattern} in the output of serve within ${timeout} ms:\n${out}`));
      }, timeout);
      const early = (): void => {
        finish();
        reject(new Error(`serve exited before printing ${pattern}:\n${out}`));
      };
      const finish = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', early);
      };
      listeners.add(check);
      child.once('exit', early);
      check();
    });
  await waitForOutput(/listening on http:\/\/\S+:\d+/, options.timeout);
  const port = Number(/listening on http:\/\/\S+:(\d+)/.exec(out)![1]);
  return {
    child,
    port,
    output: () => out,
    waitForOutput,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
