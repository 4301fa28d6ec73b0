// @ts-check
// Coming from ws: no loop over wss.clients. A Hub frames a message once for every subscriber (and compresses it once
// with compression: 'shared'), and each subscriber's slow-consumer policy applies.
import assert from 'node:assert/strict';
import { connect, Hub, PreparedMessage, WebSocketServer } from 'switchboard';

const wss = new WebSocketServer();
// #region hub
const hub = new Hub();
wss.on('connection', (conn) => {
  hub.subscribe(conn, 'room:lobby'); // it leaves every topic by itself when it closes
  conn.on('message', (msg) => hub.publish('room:lobby', msg, { except: conn })); // to everyone else, in order
});
// #endregion hub
const { port } = await wss.listen(0);
const url = `ws://127.0.0.1:${port}`;
// Subscribed before connect() resolves: the server's 'connection' comes before the client reads its 101.
const [alice, bob] = await Promise.all([connect(url), connect(url)]);
/** The next message of `conn`. */
const next = (/** @type {import('switchboard').Connection} */ conn) =>
  /** @type {Promise<import('switchboard').Message>} */ (new Promise((resolve) => conn.once('message', resolve)));
const heard = next(bob);
alice.send('hi all');
assert.deepEqual(await heard, { type: 'text', data: 'hi all' });
const ticks = Promise.all([next(alice), next(bob)]);

// #region prepared
const tick = new PreparedMessage(JSON.stringify({ type: 'tick', at: Date.now() })); // framed once
for (const conn of wss.clients) conn.sendPrepared(tick); // the same bytes to each
// #endregion prepared
for (const msg of await ticks) assert.equal(JSON.parse(/** @type {string} */ (msg.data)).type, 'tick');
await Promise.all([alice.close(), bob.close()]);
assert.equal(hub.stats.delivered, 1);
await hub.close();
await wss.close();
