// `switchboard serve`: runs the demo server until SIGINT/SIGTERM, then shuts down gracefully (1001 to every peer).
import { parseArgs } from 'node:util';
import { startDemoServer } from '../../apps/demo-server.js';
import { compressionFlag, intFlag } from './main.js';

export async function runServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'max-message-size': { type: 'string' },
      compression: { type: 'string' },
      origin: { type: 'string', multiple: true },
      'shutdown-timeout': { type: 'string' },
    },
  });
  const demo = await startDemoServer({
    host: values.host ?? '127.0.0.1',
    port: intFlag('port', values.port, 8080, 0, 65535),
    maxMessageSize: intFlag('max-message-size', values['max-message-size'], 64 * 1024 * 1024, 1),
    compression: compressionFlag(values.compression, 'dedicated'),
    origins: values.origin ?? [],
    shutdownTimeout: intFlag('shutdown-timeout', values['shutdown-timeout'], 5000, 1),
  });
  process.stdout.write(`switchboard listening on ${demo.url}\n`);
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.stdout.write(`${signal}: closing ${demo.connections()} connection(s) with 1001\n`);
      demo.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
