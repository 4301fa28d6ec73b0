// @ts-check
// Echo server and client in one program: a WebSocketServer attached to a plain node:http server echoes every
// message back with its type; a client connects (offering compression), sends text and binary, reads both echoes
// and closes. The server's options are spelled out with their defaults.
// Run: node examples/echo.mjs [port]   (default 0: any free port)
import { once } from 'node:events';
import { createServer } from 'node:http';
import { CloseCode, connect, WebSocketServer } from 'switchboard';

const httpServer = createServer((_req, res) => res.end('a WebSocket lives at /echo\n'));
const wss = new WebSocketServer({
  origins: ['https://app.example.com'], // browsers from elsewhere get 403; default 'same-origin', '*' must be said
  maxMessageSize: 1 << 20, // default 16 MiB; a bigger message closes the connection with 1009
  compression: 'shared', // false (default) | 'shared' | 'dedicated' | { ...RFC 7692 params }
  heartbeat: { interval: 25_000, timeout: 10_000 }, // on by default; false turns it off
  maxBufferedBytes: 1 << 20, // default 8 MiB waiting for a peer that does not read; then onSlowConsumer:
  onSlowConsumer: 'close', // 1008 (policy violation), or 'drop' to skip messages for that peer
});
wss.attach(httpServer, { path: '/echo' }); // other paths answer 404; or wss.handleUpgrade(req, socket, head)
wss.on('connection', (conn, req) => {
  console.log(`server: ${conn.remoteAddress} connected to ${req.url}, extensions: ${conn.extensions}`);
  conn.on('message', (msg) => conn.send(msg.data)); // msg: { type: 'text', data: string } | { type: 'binary', data: Buffer }
});
await once(httpServer.listen(Number(process.argv[2] ?? 0), '127.0.0.1'), 'listening');
const { port } = /** @type {import('node:net').AddressInfo} */ (httpServer.address());

const conn = await connect(`ws://127.0.0.1:${port}/echo`, { compression: 'dedicated', handshakeTimeout: 5_000 });
if (!conn.send('hello')) await conn.drained(); // false above the high-water mark, like stream.write
conn.send(Buffer.from([1, 2, 3]));
let echoes = 0;
for await (const msg of conn) {
  // The socket pauses while this loop lags behind; break ends the iteration, not the connection.
  console.log(`client: echoed ${msg.type}`, msg.type === 'text' ? msg.data : [...msg.data]);
  if (++echoes === 2) break;
}
const { code, wasClean } = await conn.close(CloseCode.Normal, 'bye');
console.log(`client: closed with ${code}, clean: ${wasClean}`);

await wss.close(); // 1001 to every peer still open, waits for their close (bounded), then terminates
httpServer.close();
