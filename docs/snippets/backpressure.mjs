// @ts-check
// Coming from ws: send() returns false above the high-water mark, like stream.write, and drained() says when to go
// on (where ws users poll bufferedAmount or count send callbacks); a peer that stops reading meets onSlowConsumer.
import assert from 'node:assert/strict';
import { connect, WebSocketServer } from 'switchboard';

const CHUNKS = 64;
// #region server
const wss = new WebSocketServer({
  highWaterMark: 256 * 1024, // send() returns false above this (default 1 MiB)
  maxBufferedBytes: 4 * 1024 * 1024, // hard cap per peer (default 8 MiB)...
  onSlowConsumer: 'close', // ...above which the peer is closed with 1008, or 'drop' skips messages
});
wss.on('connection', async (conn) => {
  for (let i = 0; i < CHUNKS; i++) {
    if (!conn.send(Buffer.alloc(64 * 1024, i))) await conn.drained(); // waits for the peer, never over the cap
  }
  console.log('still buffered:', conn.bufferedAmount);
});
// #endregion server
const { port } = await wss.listen(0);

const conn = await connect(`ws://127.0.0.1:${port}`);
let received = 0;
for await (const msg of conn) {
  assert.equal(msg.type === 'binary' && msg.data[0], received);
  if (++received === CHUNKS) break;
}
await conn.close();
await wss.close();
