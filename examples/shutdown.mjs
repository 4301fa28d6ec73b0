// @ts-check
// Graceful shutdown on SIGTERM: tell every client, close every connection with 1001 (going away) after what is
// already queued for it, wait until they have answered (bounded by shutdownTimeout), close the http server, and let
// the process exit 0 by itself. Meanwhile new WebSockets are refused with 503. Here the program sends itself the
// SIGTERM that your process manager would send.
// Run: node examples/shutdown.mjs
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, WebSocketServer } from 'switchboard';

const server = createServer();
const wss = new WebSocketServer({ shutdownTimeout: 5_000 }); // peers that do not answer by then are cut off
wss.attach(server);
wss.on('connection', (conn) => conn.send('welcome'));
await once(server.listen(0, '127.0.0.1'), 'listening');
const url = `ws://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}/`;

process.once('SIGTERM', async () => {
  console.log(`server: SIGTERM, closing ${wss.clients.size} connections`);
  for (const conn of wss.clients) conn.send('server restarting, reconnect in a few seconds');
  const closing = wss.close();
  const late = await connect(url).catch((err) => err);
  console.log(`server: a client arriving now is refused with ${late.status}`);
  await closing;
  server.close(); // last: node's server.close() waits for every socket, upgraded ones too
  console.log('server: every connection closed; nothing is left to run, so node exits with 0');
});

/** A client that prints what it is told and how its connection ends; resolves once welcomed. @param {string} name */
async function client(name) {
  const conn = await connect(url);
  conn.on('message', (msg) => console.log(`${name} got: ${msg.data}`));
  conn.closed.then(({ code, reason }) => console.log(`${name} closed: ${code} ${reason}`));
  return new Promise((resolve) => conn.once('message', resolve));
}
await Promise.all([client('client 1'), client('client 2')]);
process.kill(process.pid, 'SIGTERM');
