// @ts-check
// Attaching to Express: Express answers the HTTP routes, the WebSocketServer takes the upgrades on /ws of the same
// node:http server and port. (express is a dependency of your app, never of switchboard.)
// Run: node examples/express.mjs
import { once } from 'node:events';
import { createServer } from 'node:http';
import express from 'express';
import { connect, WebSocketServer } from 'switchboard';

const app = express();
app.get('/health', (_req, res) => {
  res.json({ ok: true, websockets: wss.clients.size });
});

const server = createServer(app); // app.listen() returns the same kind of server: attach to that one just as well
const wss = new WebSocketServer();
wss.attach(server, { path: '/ws' }); // only upgrades reach it: Express never sees them
wss.on('connection', (conn) => {
  conn.on('message', (msg) => conn.send(`express echo: ${msg.data}`));
});
await once(server.listen(0, '127.0.0.1'), 'listening');
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());

const conn = await connect(`ws://127.0.0.1:${port}/ws`);
const health = await fetch(`http://127.0.0.1:${port}/health`);
console.log(`GET /health → ${health.status}`, await health.json());
conn.send('hello');
for await (const msg of conn) {
  console.log(`ws /ws → ${msg.data}`);
  break;
}
await conn.close();
await wss.close(); // 1001 to the WebSocket peers first
server.close(); // then stop listening (idle keep-alive connections close too)
