// @ts-check
// Echo server and client in one program: a WebSocketServer attached to a plain node:http server echoes every
// message back with its type; a client connects, sends text and binary, reads both echoes and closes.
// Run: node examples/echo.mjs [port]   (default 0: any free port)
import { createServer } from 'node:http';
import { CloseCode, connect, WebSocketServer } from 'switchboard';

const httpServer = createServer((_req, res) => res.end('a WebSocket lives at /echo\n'));
const wss = new WebSocketServer({
  maxMessageSize: 1 << 20, // default 16 MiB; a bigger message closes the connection with 1009
  heartbeat: { interval: 25_000, timeout: 10_000 }, // on by default; false turns it off
});
wss.attach(httpServer, { path: '/echo' }); // other paths answer 404; or wss.handleUpgrade(req, socket, head)
wss.on('connection', (conn, req) => {
  console.log(`server: ${conn.remoteAddress} connected to ${req.url}`);
  conn.on('message', (msg) => conn.send(msg.data)); // msg: { type: 'text', data: string } | { type: 'binary', data: Buffer }
});
await new Promise((resolve) => httpServer.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => resolve(null)));
const { port } = /** @type {import('node:net').AddressInfo} */ (httpServer.address());

const conn = await connect(`ws://127.0.0.1:${port}/echo`, { handshakeTimeout: 5_000 });
if (!conn.send('hello')) await conn.drained(); // false above the high-water mark, like stream.write
conn.send(Buffer.from([1, 2, 3]));
let echoes = 0;
for await (const msg of conn) {
  console.log(`client: echoed ${msg.type}`, msg.type === 'text' ? msg.data : [...msg.data]);
  if (++echoes === 2) break;
}
const { code, wasClean } = await conn.close(CloseCode.Normal, 'bye');
console.log(`client: closed with ${code}, clean: ${wasClean}`);

await wss.close(); // 1001 to every peer still open, waits for their close (bounded), then terminates
httpServer.close();
