// @ts-check
// Coming from ws: `verifyClient` is two options: `origins` (the Origin check, same-origin by default) and
// `authorize(req)` (true, false for 403, or any HTTP status; it may be async). A refusal rejects connect() with a
// HandshakeError that carries the status, where ws emits 'unexpected-response'.
import assert from 'node:assert/strict';
import { connect, HandshakeError, WebSocketServer } from 'switchboard';

// #region server
const wss = new WebSocketServer({
  origins: ['https://app.example.com'], // default 'same-origin'; '*' allows any page
  authorize: async (req) => req.headers.authorization === 'Bearer s3cret' || 401,
});
// #endregion server
wss.on('connection', (conn) => conn.close());
const { port } = await wss.listen(0);
const url = `ws://127.0.0.1:${port}`;

// #region client
const headers = { Authorization: 'Bearer wrong' };
const err = await connect(url, { origin: 'https://app.example.com', headers }).catch((e) => e);
assert.ok(err instanceof HandshakeError);
assert.equal(err.code, 'ERR_HANDSHAKE_REFUSED');
assert.equal(err.status, 401); // err.headers and err.body hold the rest of the server's answer
// #endregion client
await assert.rejects(connect(url, { origin: 'https://evil.example', headers: { Authorization: 'Bearer s3cret' } }), {
  status: 403,
});
const conn = await connect(url, { origin: 'https://app.example.com', headers: { Authorization: 'Bearer s3cret' } });
assert.equal((await conn.closed).code, 1000);
await wss.close();
