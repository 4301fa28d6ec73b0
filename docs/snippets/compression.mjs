// @ts-check
// Coming from ws: `perMessageDeflate` is `compression`, off by default on both ends (ws's client offers it by
// default), and messages under 32 bytes go uncompressed (ws: 1024).
import assert from 'node:assert/strict';
import { connect, WebSocketServer } from 'switchboard';

// #region server
const wss = new WebSocketServer({
  // 'shared': no context takeover on the server's side, so a broadcast is compressed once for every peer.
  // 'dedicated': context takeover both ways, the best ratio, one window per connection and direction.
  compression: { mode: 'shared', threshold: 1024 }, // threshold: ws's default; switchboard's is 32 bytes
});
// #endregion server
wss.on('connection', (conn) => conn.on('message', (msg) => conn.send(msg.data)));
const { port } = await wss.listen(0);

// #region client
const conn = await connect(`ws://127.0.0.1:${port}`, { compression: 'dedicated' }); // off unless asked for
assert.match(conn.extensions, /^permessage-deflate/); // what the server agreed to
// #endregion client
conn.send('x'.repeat(4096));
for await (const msg of conn) {
  assert.equal(msg.data, 'x'.repeat(4096));
  break;
}
await conn.close();
await wss.close();
