// Server conformance over real sockets, Autobahn TestSuite section 7: the close handshake (RFC 6455 §5.5.1, §7.1–§7.4):
// close codes and reasons, what happens to frames after a close, and the server closing TCP first (§7.1.1).
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { useDemo } from '../helpers/demo.js';
import { closePayload, encodeFrame, Op, openPeer, type RawPeer, waitUntil } from '../helpers/raw-peer.js';

const demo = useDemo();

const open = (t: TestContext): Promise<RawPeer> => openPeer(t, demo.port);

describe('7.1 close handshake basics', () => {
  it('7.1.1: echo, then close 1000 → 1000 echoed, then the server closes TCP', async (t) => {
    const peer = await open(t);
    await peer.sendText('Hello World!');
    await peer.expectEcho('Hello World!');
    await peer.sendClose(1000);
    await peer.expectClose(1000);
    assert.equal(peer.error, null, 'the server ends TCP with a FIN, not a reset');
  });

  it('7.1.2: a second close frame is ignored: one close answer, then TCP closes', async (t) => {
    const peer = await open(t);
    await peer.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Close, payload: closePayload(1000) }),
        encodeFrame({ opcode: Op.Close, payload: closePayload(1000) }),
      ]),
    );
    await peer.expectClose(1000);
  });

  it('7.1.3/7.1.4: a ping or a text message after the close is not answered', async (t) => {
    for (const after of [
      { opcode: Op.Ping, payload: 'Hello World!' },
      { opcode: Op.Text, payload: 'Hello World!' },
      { opcode: Op.Binary, payload: Buffer.from([1, 2, 3]) },
    ]) {
      const peer = await open(t);
      await peer.sendRaw(
        Buffer.concat([encodeFrame({ opcode: Op.Close, payload: closePayload(1000) }), encodeFrame(after)]),
      );
      // expectClose fails on any frame before the close or between it and the TCP close.
      await peer.expectClose(1000);
    }
  });

  it('7.1.5: fragment 1, close, fragment 2 → only the close is answered', async (t) => {
    const peer = await open(t);
    await peer.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Text, payload: 'fragment1', fin: false }),
        encodeFrame({ opcode: Op.Close, payload: closePayload(1000) }),
        encodeFrame({ opcode: Op.Continuation, payload: 'fragment2', fin: true }),
      ]),
    );
    await peer.expectClose(1000);
  });

  it('7.1.6: a 256 KiB message, then close, then ping → the echo, the close, no pong', async (t) => {
    const peer = await open(t);
    const big = 'BAsd7&jh23'.repeat(26215).slice(0, 256 << 10);
    await peer.sendRaw(
      Buffer.concat([
        encodeFrame({ opcode: Op.Text, payload: big }),
        encodeFrame({ opcode: Op.Close, payload: closePayload(1000) }),
        encodeFrame({ opcode: Op.Ping, payload: 'Hello World!' }),
      ]),
    );
    await peer.expectEcho(big);
    await peer.expectClose(1000);
  });

  it('the server drops the connection from its client set once the handshake is done', async (t) => {
    const peer = await open(t);
    await waitUntil(() => demo.connections() >= 1, 'the server counts the connection');
    await peer.sendClose(1000);
    await peer.expectClose(1000);
    await waitUntil(() => demo.connections() === 0, 'the server forgets the closed connection');
  });
});

describe('7.3 close frame payloads', () => {
  it('7.3.1: an empty close is answered by an empty close, then TCP closes', async (t) => {
    const peer = await open(t);
    await peer.sendClose();
    const got = await peer.expectClose(null);
    assert.equal(got.code, null);
  });

  it('7.3.2: a 1-byte close payload → 1002', async (t) => {
    const peer = await open(t);
    await peer.send({ opcode: Op.Close, payload: Buffer.from([0x03]) });
    await peer.expectClose(1002);
  });

  it('7.3.3–7.3.5: 1000 with no reason, a short reason, a 123-byte reason → 1000 echoed', async (t) => {
    for (const reason of ['', 'Hello World!', '*'.repeat(123), `${'é'.repeat(61)}x`]) {
      const peer = await open(t);
      await peer.sendClose(1000, reason);
      await assert.doesNotReject(peer.expectClose(1000), `reason of ${Buffer.byteLength(reason)} bytes`);
    }
  });

  it('7.3.6: a 124-byte reason (126-byte control payload) → 1002', async (t) => {
    const peer = await open(t);
    await peer.sendClose(1000, '*'.repeat(124));
    await peer.expectClose(1002);
  });

  it('7.5.1: a reason that is not valid UTF-8 → 1007', async (t) => {
    for (const reason of [
      Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex'),
      Buffer.from([0xff]),
      Buffer.from([0xc0, 0xaf]),
    ]) {
      const peer = await open(t);
      await peer.sendClose(1000, reason);
      await assert.doesNotReject(peer.expectClose(1007), reason.toString('hex'));
    }
  });

  it('a close sent byte by byte is answered', async (t) => {
    const peer = await open(t);
    await peer.sendChopped(encodeFrame({ opcode: Op.Close, payload: closePayload(1000, 'chopped') }), 1);
    await peer.expectClose(1000);
  });
});

describe('7.7/7.9/7.13 close codes', () => {
  const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  it('7.7.x: every valid code is echoed and the close is clean', async (t) => {
    for (const code of valid) {
      const peer = await open(t);
      await peer.sendClose(code);
      await assert.doesNotReject(peer.expectClose(code), `code ${code}`);
      assert.equal(peer.error, null, `code ${code}: TCP ended with a FIN`);
    }
  });

  const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  it('7.9.x/7.13.x: every invalid code → 1002', async (t) => {
    for (const code of invalid) {
      const peer = await open(t);
      await peer.sendClose(code);
      await assert.doesNotReject(peer.expectClose(1002), `code ${code}`);
    }
  });
});
