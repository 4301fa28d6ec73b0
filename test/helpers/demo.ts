// The demo server (apps/demo-server.ts) as the server under test: on 127.0.0.1:0 with test-sized limits, started per
// test or once around a suite (before/after).
import { after, before } from 'node:test';
import { type DemoOptions, type DemoServer, startDemoServer } from '../../apps/demo-server.js';

/** What the Autobahn-style suites run against: /echo without compression, messages up to 64 MiB. */
export const TEST_DEMO_OPTIONS: Readonly<DemoOptions> = {
  host: '127.0.0.1',
  port: 0,
  maxMessageSize: 64 << 20,
  compression: false,
  origins: [],
  shutdownTimeout: 2000,
};

/** Starts a demo server with TEST_DEMO_OPTIONS and `overrides`; the caller closes it. */
export function startTestDemo(overrides: Partial<DemoOptions> = {}): Promise<DemoServer> {
  return startDemoServer({ ...TEST_DEMO_OPTIONS, ...overrides });
}

/**
 * Starts a demo server before the enclosing suite (or file) and closes it after. The returned handle reads the running
 * server, so use it inside tests and hooks only.
 */
export function useDemo(overrides: Partial<DemoOptions> = {}): DemoServer {
  let server: DemoServer | undefined;
  before(async () => {
    server = await startTestDemo(overrides);
  });
  after(() => server?.close());
  const running = (): DemoServer => {
    if (!server) throw new Error('the demo server is not running yet (use it inside a test or hook)');
    return server;
  };
  return {
    get url() {
      return running().url;
    },
    get port() {
      return running().port;
    },
    get http() {
      return running().http;
    },
    connections: () => running().connections(),
    transports: () => running().transports(),
    stats: () => running().stats(),
    close: () => running().close(),
  };
}
