// @ts-check
// WebSockets over HTTP/2 (RFC 8441): the same WebSocketServer attached to a node:http2 server serves extended CONNECT
// streams, and connect(url, { http2: true }) opens WebSockets as streams of one shared HTTP/2 session. Cleartext
// HTTP/2 (h2c) here; with TLS use createSecureServer({ key, cert, allowHTTP1: true }) for h2 and HTTP/1.1 on one port.
// Run: node examples/http2.mjs
import { once } from 'node:events';
import { createServer } from 'node:http2';
import { connect, WebSocketServer } from 'switchboard';

const server = createServer();
let sessions = 0;
server.on('session', () => sessions++);
const wss = new WebSocketServer();
wss.attach(server, { path: '/chat' }); // extended CONNECT streams (and HTTP/1.1 upgrades), same checks for both
wss.on('connection', (conn, req) => {
  conn.send(`hello over HTTP/${req.httpVersionMajor}`);
});
await once(server.listen(0, '127.0.0.1'), 'listening');
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());

/** @type {import('switchboard').Connection[]} */
const sockets = [];
const url = `ws://127.0.0.1:${port}/chat`;
for (const name of ['first', 'second']) {
  // One session for both: the second WebSocket is another stream of it. Or { http2: http2.connect(origin) }.
  const conn = await connect(url, { http2: true });
  const [msg] = await once(conn, 'message');
  console.log(`client: ${name} WebSocket got "${msg.data}"`);
  sockets.push(conn);
}
const closes = await Promise.all(sockets.map((conn) => conn.close())); // the session closes after its last one
console.log(`client: closed with ${closes.map((c) => c.code).join(' and ')}; the server saw ${sessions} session`);
await wss.close();
server.close();
