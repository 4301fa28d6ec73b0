// @ts-check
// Attaching to Fastify's underlying server: `app.server` is the node:http server Fastify listens with, so the
// WebSocketServer takes the upgrades on /ws while Fastify answers the routes. No Fastify plugin is involved.
// (fastify is a dependency of your app, never of switchboard.)
// Run: node examples/fastify.mjs
import Fastify from 'fastify';
import { connect, WebSocketServer } from 'switchboard';

const app = Fastify();
const wss = new WebSocketServer();
app.get('/health', async () => ({ ok: true, websockets: wss.clients.size }));

wss.attach(app.server, { path: '/ws' }); // app.server exists as soon as Fastify() returns
wss.on('connection', (conn) => {
  conn.on('message', (msg) => conn.send(`fastify echo: ${msg.data}`));
});
// Close the WebSockets (1001 to every peer) before Fastify closes its server: node's server.close() waits for every
// socket, upgraded ones too, so an 'onClose' hook (which runs after it) would wait forever.
app.addHook('preClose', async () => {
  await wss.close();
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });

const conn = await connect(`${address.replace('http:', 'ws:')}/ws`);
const health = await fetch(`${address}/health`);
console.log(`GET /health → ${health.status}`, await health.json());
conn.send('hello');
for await (const msg of conn) {
  console.log(`ws /ws → ${msg.data}`);
  break;
}
await app.close();
console.log(`after app.close(): the client saw ${(await conn.closed).code}`);
