// The comparison server: ws@8 offering the demo server's contract, written the way ws users write it.
//   /echo       every message back to its sender, with the same type
//   /broadcast  every message to all /broadcast clients, the sender included, in order (the idiomatic loop)
// Usage: node dist/bench/ws-server.js [--port 0] [--compression off|on] [--compression-threshold BYTES]
//        [--max-message-size BYTES]
// on: `perMessageDeflate: true` (ws's defaults, threshold 1024 B), or `{ threshold }` when a threshold is given, so a
// workload can put both servers at the same threshold; --max-message-size is ws's maxPayload (default 100 MiB).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    compression: { type: 'string', default: 'off' },
    'compression-threshold': { type: 'string' },
    'max-message-size': { type: 'string' },
  },
});

function byteCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`ws-server: --${flag} must be a whole number of bytes, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

const threshold = byteCount('compression-threshold', values['compression-threshold']);
const maxPayload = byteCount('max-message-size', values['max-message-size']);
if (values.compression !== 'on' && values.compression !== 'off') {
  process.stderr.write(`ws-server: --compression must be on or off, got "${values.compression}"\n`);
  process.exit(2);
}
if (threshold !== undefined && values.compression !== 'on') {
  process.stderr.write('ws-server: --compression-threshold needs --compression on\n');
  process.exit(2);
}
const perMessageDeflate = values.compression === 'on' && (threshold === undefined ? true : { threshold });
const options = { noServer: true, perMessageDeflate, ...(maxPayload !== undefined && { maxPayload }) };

const echo = new WebSocketServer(options);
echo.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const broadcast = new WebSocketServer(options);
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
