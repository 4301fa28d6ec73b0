// @ts-check
// Coming from ws: instead of createWebSocketStream() (one Duplex for the whole connection), a message can be
// streamed by itself: nextReader() reads the next one as a Readable, writer() writes one as a Writable, each with
// backpressure through the socket.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, WebSocketServer } from 'switchboard';

const wss = new WebSocketServer();
let bytes = 0;
const sink = new Writable({
  write(chunk, _encoding, done) {
    bytes += chunk.length;
    done();
  },
});
/** @type {Promise<void>} */
const received = new Promise((resolve, reject) => {
  // #region reader
  wss.on('connection', async (conn) => {
    const reader = await conn.nextReader({ maxSize: 1 << 30 }); // this message may be up to 1 GiB, never held whole
    await pipeline(reader, sink); // e.g. fs.createWriteStream('upload.bin')
    // #endregion reader
    resolve();
  });
  wss.on('connection', (conn) => conn.once('error', reject));
});
const { port } = await wss.listen(0);

// #region writer
const conn = await connect(`ws://127.0.0.1:${port}`);
const chunks = Array.from({ length: 100 }, () => Buffer.alloc(64 * 1024)); // e.g. fs.createReadStream('big.bin')
await pipeline(Readable.from(chunks), conn.writer('binary')); // each chunk one fragment of one message
// #endregion writer
await received;
assert.equal(bytes, 100 * 64 * 1024);
await conn.close();
await wss.close();
