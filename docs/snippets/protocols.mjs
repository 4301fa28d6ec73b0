// @ts-check
// Coming from ws: `handleProtocols` is a list in the server's order of preference.
import assert from 'node:assert/strict';
import { connect, WebSocketServer } from 'switchboard';

// #region protocols
const wss = new WebSocketServer({ protocols: ['chat.v2', 'chat.v1'] }); // most preferred first
wss.on('connection', (conn) => conn.send(`you speak ${conn.protocol}`));
const { port } = await wss.listen(0);

const conn = await connect(`ws://127.0.0.1:${port}`, { protocols: ['chat.v1'] });
assert.equal(conn.protocol, 'chat.v1'); // the first of the server's list that the client offered; '' for none
// #endregion protocols
for await (const msg of conn) {
  assert.equal(msg.data, 'you speak chat.v1');
  break;
}
await conn.close();
await wss.close();
