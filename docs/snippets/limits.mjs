// @ts-check
// Coming from ws: `maxPayload` is `maxMessageSize` (default 16 MiB, where ws allows 100 MiB); ws's names throw.
import assert from 'node:assert/strict';
import { CloseCode, connect, WebSocketServer } from 'switchboard';

// #region limit
const wss = new WebSocketServer({ maxMessageSize: 64 * 1024 }); // bytes, after inflating; default 16 MiB
// A ws option name is refused at once (by the types, and at run time with what to use instead):
// @ts-expect-error maxPayload is ws's name
assert.throws(() => new WebSocketServer({ maxPayload: 64 * 1024 }), /unknown option "maxPayload": use maxMessageSize/);
// #endregion limit
wss.on('connection', (conn) => conn.on('message', (msg) => conn.send(msg.data)));
const { port } = await wss.listen(0);

// #region too-big
const conn = await connect(`ws://127.0.0.1:${port}`);
conn.send(Buffer.alloc(64 * 1024 + 1)); // one byte over the server's limit
const { code } = await conn.closed; // the server failed the connection
assert.equal(code, CloseCode.MessageTooBig); // 1009
// #endregion too-big
await wss.close();
