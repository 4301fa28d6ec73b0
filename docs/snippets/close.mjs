// @ts-check
// Coming from ws: close() without a code sends 1000 (ws sends a close frame without one, which the peer reports as
// 1005) and returns a promise of how the close went; 'close' has one CloseInfo argument, its reason a string.
import assert from 'node:assert/strict';
import { CloseCode, connect, WebSocketServer } from 'switchboard';

const wss = new WebSocketServer();
// #region server
wss.on('connection', (conn) => {
  conn.on('close', ({ code, reason, wasClean }) => console.log('closed', code, reason, wasClean));
});
// #endregion server
/** @type {Promise<import('switchboard').CloseInfo>} */
const serverSaw = new Promise((resolve) => wss.once('connection', (conn) => conn.once('close', resolve)));
const { port } = await wss.listen(0);

// #region client
const conn = await connect(`ws://127.0.0.1:${port}`);
const info = await conn.close(); // resolves once the close handshake is done (or closeTimeout ends it)
assert.deepEqual(info, { code: CloseCode.Normal, reason: '', wasClean: true });
// Or with a code and a reason (a string of at most 123 bytes):
const other = await connect(`ws://127.0.0.1:${port}`);
await other.close(4000, 'logged out');
// #endregion client
assert.deepEqual(await serverSaw, { code: 1000, reason: '', wasClean: true });
await wss.close();
