// @ts-check
// Coming from ws: no isAlive flag and interval of your own; a server pings idle peers and terminates silent ones by
// default (every 25 s, 10 s to answer). Clients can do the same with `heartbeat: true`.
import assert from 'node:assert/strict';
import { connect, WebSocketServer } from 'switchboard';

// #region heartbeat
const wss = new WebSocketServer({ heartbeat: { interval: 50, timeout: 1_000 } }); // short, to see it; false: off
const { port } = await wss.listen(0);

const conn = await connect(`ws://127.0.0.1:${port}`, { heartbeat: true }); // the client's is off by default
// #endregion heartbeat
// Idle for 50 ms: the server pings; the client answers on its own (and emits 'ping').
const ping = await new Promise((resolve) => conn.once('ping', resolve));
assert.ok(Buffer.isBuffer(ping));
assert.equal(wss.stats.heartbeatKills, 0);
await conn.close();
await wss.close();
