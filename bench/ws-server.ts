// The comparison server: ws@8 offering the demo server's contract, written the way ws users write it.
//   /echo       every message back to its sender, with the same type
//   /broadcast  every message to all /broadcast clients, the sender included, in order (the idiomatic loop)
// Usage: node dist/bench/ws-server.js [--port 0] [--compression off|on]   (on: `perMessageDeflate: true`)
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    compression: { type: 'string', default: 'off' },
  },
});
const perMessageDeflate = values.compression === 'on';

const echo = new WebSocketServer({ noServer: true, perMessageDeflate });
echo.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const broadcast = new WebSocketServer({ noServer: true, perMessageDeflate });
broadcast.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => {
    for (const client of broadcast.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});

const http = createServer((_req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
});
http.on('upgrade', (req, socket, head) => {
  const path = (req.url ?? '/').split('?')[0];
  const wss = path === '/echo' ? echo : path === '/broadcast' ? broadcast : null;
  if (!wss) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
http.listen(Number(values.port), values.host, () => {
  const { port } = http.address() as AddressInfo;
  process.stdout.write(`ws listening on http://${values.host}:${port}\n`);
});

const stop = (): void => {
  for (const ws of [...echo.clients, ...broadcast.clients]) ws.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
