// Entry of the `switchboard` command: dispatches to a subcommand, answers --help and --version; bad usage prints what
// is wrong (naming the flag) and exits 2.
import { readFileSync } from 'node:fs';
import { CONNECT, runConnect } from './connect.js';
import { helpText, UsageError } from './flags.js';
import { runServe, SERVE } from './serve.js';
import { visible } from './terminal-text.js';

const COMMANDS = { serve: runServe, connect: runConnect } as const;
const HELP = { serve: SERVE, connect: CONNECT } as const;

export const USAGE = `usage:
  switchboard serve [flags]          run the demo server (chat, dashboard, ws /echo, ws /broadcast, /metrics)
  switchboard connect <url> [flags]  an interactive WebSocket client, like wscat
  switchboard <command> --help       the flags of a command, with their defaults
  switchboard --version              the version of switchboard
`;

export async function main(argv: readonly string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    if (command === '--version' || command === '-v') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (command === 'help' || command === '--help' || command === '-h') {
      const topic = rest[0];
      if (topic === undefined) process.stdout.write(USAGE);
      else if (isCommand(topic)) process.stdout.write(helpText(HELP[topic]));
      else throw new UsageError(`no help for "${visible(topic)}" (commands: serve, connect)`);
      return 0;
    }
    if (command === undefined) {
      process.stderr.write(`switchboard: no command given\n${USAGE}`);
      return 2;
    }
    if (!isCommand(command)) throw new UsageError(`unknown command "${visible(command)}" (commands: serve, connect)`);
    return await COMMANDS[command](rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const more = command !== undefined && isCommand(command) ? `switchboard ${command} --help` : 'switchboard --help';
    process.stderr.write(`switchboard: ${err.message}\n(see ${more})\n`);
    return 2;
  }
}

function isCommand(name: string): name is keyof typeof COMMANDS {
  return Object.hasOwn(COMMANDS, name);
}

/** The version in the package's own package.json (dist/src/cli → the package root). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
