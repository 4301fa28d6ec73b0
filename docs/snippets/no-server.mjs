// @ts-check
// Coming from ws: `server` + `path` is attach(server, { path }); `noServer` + handleUpgrade() needs no option and no
// callback: handleUpgrade() emits 'connection' itself.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, WebSocketServer } from 'switchboard';

// #region attach
const server = createServer((_req, res) => res.end('plain HTTP still works\n'));
const chat = new WebSocketServer().attach(server, { path: '/chat' }); // other paths answer 404
// #endregion attach
const events = new WebSocketServer();

// #region handle-upgrade
const other = createServer();
other.on('upgrade', (req, socket, head) => {
  // handleUpgrade() answers the request either way, then emits 'connection' on `events` (no callback).
  if (req.url?.startsWith('/events')) events.handleUpgrade(req, socket, head);
  else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
});
// #endregion handle-upgrade

for (const wss of [chat, events]) wss.on('connection', (conn) => conn.send('welcome'));
const listen = (/** @type {import('node:http').Server} */ s) =>
  new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(/** @type {any} */ (s.address()).port)));
const [chatPort, otherPort] = await Promise.all([listen(server), listen(other)]);
for (const url of [`ws://127.0.0.1:${chatPort}/chat`, `ws://127.0.0.1:${otherPort}/events?since=1`]) {
  const conn = await connect(url);
  for await (const msg of conn) {
    assert.equal(msg.data, 'welcome');
    break;
  }
  await conn.close();
}
await assert.rejects(connect(`ws://127.0.0.1:${chatPort}/nope`), { status: 404 });
await Promise.all([chat.close(), events.close()]);
server.close();
other.close();
