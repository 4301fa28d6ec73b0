// A WebSocketServer on 127.0.0.1:0 whose timers (heartbeat, close and shutdown timeouts) run on a ManualClock, closed
// when the test ends, and the next 'connection' a server emits, awaited with a deadline.
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import type { Connection } from '../../src/connection/connection.js';
import { type ServerOptions, WebSocketServer } from '../../src/server.js';
import { ManualClock } from './manual-clock.js';
import { within } from './raw-peer.js';

export interface ClockedServer {
  clock: ManualClock;
  wss: WebSocketServer;
  port: number;
}

export async function startClockedServer(t: TestContext, options: ServerOptions): Promise<ClockedServer> {
  const clock = new ManualClock();
  const wss = new WebSocketServer({ clock, ...options });
  const { port } = await wss.listen(0, '127.0.0.1');
  t.after(async () => {
    const closing = wss.close();
    // Shutdown and close timers run on the manual clock: let them expire for peers that never answer.
    clock.advance(60_000);
    await closing;
  });
  return { clock, wss, port };
}

export function nextConnection(wss: WebSocketServer): Promise<Connection> {
  return within(
    once(wss, 'connection').then(([conn]) => conn as Connection),
    5_000,
    'a server connection',
  );
}
