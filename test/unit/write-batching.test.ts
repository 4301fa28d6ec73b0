// How a Connection batches its writes (src/connection/write-batch.ts and Connection#batchWrites): observed on a fake
// socket that records cork/uncork/write calls, so each claim about syscalls saved is checked, not assumed.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { Connection } from '../../src/connection/connection.js';
import { resolveLimits } from '../../src/connection/limits.js';
import { Opcode } from '../../src/protocol/constants.js';
import { frame } from '../helpers/frames.js';

/** A Duplex whose writes go nowhere; `log` records what the connection did to it, in order. */
class RecordingSocket extends Duplex {
  readonly log: string[] = [];
  /** Frames the kernel would see: one entry per _write/_writev call, i.e. per syscall. */
  readonly syscalls: Buffer[][] = [];

  override cork(): void {
    this.log.push('cork');
    super.cork();
  }

  override uncork(): void {
    this.log.push('uncork');
    super.uncork();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.syscalls.push([chunk]);
    cb();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: () => void): void {
    this.syscalls.push(chunks.map((c) => c.chunk));
    cb();
  }

  override _read(): void {}
}

async function open(): Promise<{ socket: RecordingSocket; conn: Connection }> {
  const socket = new RecordingSocket();
  const conn = new Connection(socket, {
    limits: resolveLimits({}),
    role: 'server',
    protocol: '',
    extensions: '',
    deflate: null,
    clock: systemClock,
  });
  // Reading starts one macrotask after construction.
  await new Promise((resolve) => setImmediate(resolve));
  return { socket, conn };
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

/** A masked client text frame, as a peer would send it. */
function clientText(text: string): Buffer {
  return frame({ opcode: Opcode.Text, payload: Buffer.from(text), mask: Buffer.from([1, 2, 3, 4]) });
}

describe('write batching', () => {
  it('sends outside a read are corked once and leave in one writev at the end of the tick', async () => {
    const { socket, conn } = await open();
    for (let i = 0; i < 10; i++) assert.equal(conn.send(`m${i}`), true);
    assert.deepEqual(socket.log, ['cork'], 'one cork for the whole burst');
    assert.equal(socket.syscalls.length, 0, 'nothing written before the tick ends');
    await nextTick();
    assert.deepEqual(socket.log, ['cork', 'uncork']);
    assert.equal(socket.syscalls.length, 1, 'ten frames, one writev');
    assert.equal(socket.syscalls[0]!.length, 10);
  });

  it('many connections written in one tick are all uncorked by one flush', async () => {
    const peers = await Promise.all(Array.from({ length: 5 }, open));
    for (const { conn } of peers) {
      conn.send('a');
      conn.send('b');
    }
    for (const { socket } of peers) assert.equal(socket.syscalls.length, 0);
    await nextTick();
    for (const { socket } of peers) {
      assert.deepEqual(socket.log, ['cork', 'uncork']);
      assert.equal(socket.syscalls.length, 1);
    }
  });

  it('within a read, the first reply goes straight out and later ones share one writev', async () => {
    const { socket, conn } = await open();
    conn.on('message', (msg) => conn.send(msg.data));
    socket.push(clientText('only'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(socket.log, [], 'a single reply needs no cork');
    assert.equal(socket.syscalls.length, 1);

    socket.push(Buffer.concat([clientText('one'), clientText('two'), clientText('three')]));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(socket.log, ['cork', 'uncork'], 'the second reply corks, the end of the read uncorks');
    assert.equal(socket.syscalls.length, 3, 'first reply alone, then the other two together');
    assert.equal(socket.syscalls[2]!.length, 2);
  });
});
