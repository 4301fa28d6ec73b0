// @ts-check
// Streaming a file both ways, one message each, never held whole in memory: the client uploads with writer(), the
// server stores it through nextReader() with a size cap and streams it back with writer(). An upload over the cap
// closes that connection with 1009 (message too big).
// Run: node examples/stream-file.mjs
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connect, WebSocketServer } from 'switchboard';

const MAX_UPLOAD = 4 << 20; // 4 MiB for this one message, whatever the server's maxMessageSize
const dir = mkdtempSync(join(tmpdir(), 'switchboard-stream-'));

const wss = new WebSocketServer();
wss.on('connection', async (conn) => {
  const stored = join(dir, `upload-${wss.stats.connectionsTotal}.bin`);
  const upload = await conn.nextReader({ maxSize: MAX_UPLOAD });
  try {
    await pipeline(upload, createWriteStream(stored));
  } catch {
    return; // over the cap (the connection is closing with 1009) or the client went away
  }
  await pipeline(createReadStream(stored), conn.writer('binary'));
});
const { port } = await wss.listen(0, '127.0.0.1');

/** Uploads `size` random bytes from a file, then reads the server's copy back and compares digests. @param {number} size */
async function roundTrip(size) {
  const file = join(dir, `original-${size}.bin`);
  const original = randomBytes(size);
  writeFileSync(file, original);
  const conn = await connect(`ws://127.0.0.1:${port}/`);
  await pipeline(createReadStream(file), conn.writer('binary')).catch(() => {}); // a refused upload ends quietly
  const download = await conn.nextReader({ maxSize: MAX_UPLOAD }).catch(() => null);
  if (!download) return console.log(`${size} bytes: refused, closed with ${(await conn.closed).code}`);
  const received = createHash('sha256');
  let bytes = 0;
  for await (const chunk of download) {
    received.update(chunk);
    bytes += chunk.length;
  }
  const same = received.digest('hex') === createHash('sha256').update(original).digest('hex');
  console.log(`${size} bytes: uploaded, ${bytes} came back, same sha256: ${same}`);
  await conn.close();
}
await roundTrip(3 << 20);
await roundTrip(5 << 20);
await wss.close();
rmSync(dir, { recursive: true, force: true });
