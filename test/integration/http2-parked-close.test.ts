// Regression: a close frame parked by the read path's per-turn CPU budget was lost when END_STREAM followed it in the
// same read. The Connection ended its side at once, an HTTP/2 stream closes as soon as both ends have ended, and the
// parked bytes were never parsed: a clean close reported 1006 (seen when 100 WebSockets on one session closed at once
// on a loaded machine). Here one WebSocket's handler spends the turn's budget while the other's close arrives.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Connection } from '../../src/connection/connection.js';
import { WebSocketServer } from '../../src/server.js';
import { openH2Peer, openSession, startH2Server } from '../helpers/h2.js';
import { closePayload, encodeFrame, Op, waitUntil, within } from '../helpers/raw-peer.js';

it('a close frame parked by the CPU budget is still read when END_STREAM follows it in the same read', async (t) => {
  const wss = new WebSocketServer({ heartbeat: false });
  t.after(() => wss.close());
  const conns: Connection[] = [];
  wss.on('connection', (conn) => {
    conns.push(conn);
    conn.on('message', () => {
      // More than the read path's budget for one turn (4 ms): the next connection's bytes wait for a later turn.
      const until = performance.now() + 20;
      while (performance.now() < until);
    });
  });
  const h2 = await startH2Server(t, (server) => wss.attach(server));
  const session = await openSession(t, h2.origin);
  const busy = await openH2Peer(t, session);
  const closing = await openH2Peer(t, session);
  await waitUntil(() => conns.length === 2, 'both server connections');
  // One tick, so one TCP write: a message for the busy one, then the other's close frame and its END_STREAM.
  busy.stream.write(encodeFrame({ opcode: Op.Text, payload: 'spend the budget' }));
  closing.stream.write(encodeFrame({ opcode: Op.Close, payload: closePayload(1000, 'bye') }));
  closing.stream.end();
  const info = await within(conns[1]!.closed, 5_000, 'the server side to close');
  assert.deepEqual(info, { code: 1000, reason: 'bye', wasClean: true });
});
