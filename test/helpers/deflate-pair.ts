// A switchboard server with one DeflatePeer connected to it, both closed after the test: the setup of the
// compression-send and compression-receive suites.
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { type Connection, type ServerOptions, WebSocketServer } from '../../src/index.js';
import { DeflatePeer } from './deflate-peer.js';
import { within } from './raw-peer.js';

const MiB = 1024 * 1024;

/** Heartbeat off and a 64 MiB message limit unless `options` say otherwise. */
export async function deflatePair(
  t: TestContext,
  options: ServerOptions,
): Promise<{ wss: WebSocketServer; conn: Connection; peer: DeflatePeer }> {
  const wss = new WebSocketServer({ heartbeat: false, maxMessageSize: 64 * MiB, ...options });
  const { port } = await wss.listen(0);
  t.after(() => wss.close());
  const accepted = once(wss, 'connection') as Promise<[Connection]>;
  const peer = await DeflatePeer.open(port);
  t.after(() => peer.close());
  const [conn] = await within(accepted, 10_000, 'the connection');
  return { wss, conn, peer };
}
