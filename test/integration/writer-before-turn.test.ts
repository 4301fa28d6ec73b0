// A writer destroyed before its turn (found in review): it has sent no fragment, because a large message ahead of it
// is still being compressed on the threadpool, so nothing of it may reach the wire and nothing sent before it may be lost.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { type Connection, ReadyState, type ServerOptions, WebSocketServer } from '../../src/index.js';
import { DeflatePeer, prng, textOfSize } from '../helpers/deflate-peer.js';
import { within } from '../helpers/raw-peer.js';

const WAIT = 10_000;
const MiB = 1024 * 1024;

async function pair(
  t: TestContext,
  options: ServerOptions,
): Promise<{ wss: WebSocketServer; conn: Connection; peer: DeflatePeer }> {
  const wss = new WebSocketServer({ heartbeat: false, maxMessageSize: 64 * MiB, ...options });
  const { port } = await wss.listen(0);
  t.after(() => wss.close());
  const accepted = once(wss, 'connection') as Promise<[Connection]>;
  const peer = await DeflatePeer.open(port);
  t.after(() => peer.close());
  const [conn] = await within(accepted, WAIT, 'the connection');
  return { wss, conn, peer };
}

describe('a writer destroyed before its turn (a large message ahead of it is being compressed)', () => {
  it('sent nothing, so the connection stays open and the large message and later sends still arrive', async (t) => {
    const { conn, peer } = await pair(t, { compression: 'dedicated' });
    const big = Buffer.from(textOfSize(1 * MiB, prng(11)));
    conn.send(big);
    const writer = conn.writer('text');
    // Its first fragment waits for the channel: nothing of this message is on the wire yet.
    writer.write('never sent');
    writer.destroy();
    conn.send('after');
    const first = await peer.nextMessage(WAIT);
    assert.ok(first.data.equals(big), 'the message sent before the writer arrives');
    assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'after');
    assert.equal(conn.readyState, ReadyState.Open);
  });

  it("a writer opened right after it gets the channel in turn, and none of the first one's bytes", async (t) => {
    const { conn, peer } = await pair(t, { compression: 'shared' });
    const big = Buffer.from(textOfSize(1 * MiB, prng(12)));
    conn.send(big);
    const first = conn.writer('text');
    first.write('from the destroyed writer');
    first.destroy();
    const second = conn.writer('text');
    second.write('second ');
    second.end('writer');
    conn.send('after');
    assert.ok((await peer.nextMessage(WAIT)).data.equals(big));
    assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'second writer');
    assert.equal((await peer.nextMessage(WAIT)).data.toString(), 'after');
  });
});
