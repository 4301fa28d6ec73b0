// @ts-check
// Coming from ws: one `msg` argument instead of `(data, isBinary)`; text arrives as a string, binary as a Buffer.
import assert from 'node:assert/strict';
import { connect, WebSocketServer } from 'switchboard';

// #region server
const wss = new WebSocketServer();
wss.on('connection', (conn) => {
  conn.on('message', (msg) => {
    // msg.type says which: 'text' with a string (its UTF-8 checked), or 'binary' with a Buffer.
    if (msg.type === 'text') conn.send(msg.data.toUpperCase());
    else conn.send(msg.data); // a string is sent as text, a Buffer as binary
  });
});
const { port } = await wss.listen(0); // 127.0.0.1 unless you pass a host: listen(8080, '0.0.0.0')
// #endregion server

// #region client
const conn = await connect(`ws://127.0.0.1:${port}`);
conn.send('hello');
conn.send(Buffer.from([1, 2, 3]));
const replies = [];
for await (const msg of conn) {
  replies.push(msg);
  if (replies.length === 2) break;
}
// #endregion client
assert.deepEqual(replies, [
  { type: 'text', data: 'HELLO' },
  { type: 'binary', data: Buffer.from([1, 2, 3]) },
]);
await conn.close();
await wss.close();
