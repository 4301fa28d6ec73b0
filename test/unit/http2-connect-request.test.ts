// The extended CONNECT handshake of RFC 8441 §4–5 as pure functions: the server's request checks, its 200 answer,
// the client's request headers and its checks of the answer.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingHttpStatusHeader } from 'node:http2';
import { describe, it } from 'node:test';
import { HandshakeError } from '../../src/errors.js';
import {
  checkConnectRequest,
  checkConnectResponse,
  connectRequest,
  connectResponse,
  isWebSocketConnect,
} from '../../src/http2/connect-request.js';

/** What Chromium sent for a WebSocket over HTTP/2 (seen in this project's e2e run), minus the browser's own fields. */
const CHROMIUM: IncomingHttpHeaders = {
  ':method': 'CONNECT',
  ':authority': '127.0.0.1:36279',
  ':scheme': 'https',
  ':path': '/chat',
  ':protocol': 'websocket',
  origin: 'https://127.0.0.1:36279',
  'sec-websocket-version': '13',
  'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
};

/** A response header block as node hands it over (:status is a number, which the header index type cannot say). */
function answer(status: number, fields: Record<string, string> = {}): IncomingHttpHeaders & IncomingHttpStatusHeader {
  return { ':status': status, ...fields } as unknown as IncomingHttpHeaders & IncomingHttpStatusHeader;
}

function without(name: string): IncomingHttpHeaders {
  const h = { ...CHROMIUM };
  delete h[name];
  return h;
}

describe('isWebSocketConnect (RFC 8441 §4)', () => {
  it('is CONNECT with :protocol websocket, the token in any case', () => {
    assert.equal(isWebSocketConnect(CHROMIUM), true);
    assert.equal(isWebSocketConnect({ ...CHROMIUM, ':protocol': 'WebSocket' }), true);
  });

  it('is not a plain CONNECT, another :protocol, or a GET carrying :protocol', () => {
    assert.equal(isWebSocketConnect(without(':protocol')), false);
    assert.equal(isWebSocketConnect({ ...CHROMIUM, ':protocol': 'connect-udp' }), false);
    assert.equal(isWebSocketConnect({ ...CHROMIUM, ':method': 'GET' }), false);
  });
});

describe('checkConnectRequest (RFC 8441 §4–5)', () => {
  it('accepts Chromium’s request: the :authority for the origin check, no subprotocol offered', () => {
    assert.deepEqual(checkConnectRequest(CHROMIUM), { ok: true, authority: '127.0.0.1:36279', offeredProtocols: [] });
  });

  it('needs no Sec-WebSocket-Key (§5: superseded by :protocol), and ignores one that is sent', () => {
    assert.equal(checkConnectRequest(CHROMIUM).ok, true);
    assert.equal(checkConnectRequest({ ...CHROMIUM, 'sec-websocket-key': 'not even base64' }).ok, true);
  });

  it('lists the offered subprotocols in order', () => {
    const v = checkConnectRequest({ ...CHROMIUM, 'sec-websocket-protocol': 'chat.v2, chat.v1' });
    assert.deepEqual(v.ok && v.offeredProtocols, ['chat.v2', 'chat.v1']);
  });

  const refusals: Array<[string, IncomingHttpHeaders, number, RegExp, Record<string, string>?]> = [
    ['a GET', { ...CHROMIUM, ':method': 'GET' }, 405, /extended CONNECT/, { allow: 'CONNECT' }],
    ['a CONNECT without :protocol', without(':protocol'), 400, /without :protocol/],
    ['another :protocol (§4: SHOULD be 501)', { ...CHROMIUM, ':protocol': 'connect-udp' }, 501, /connect-udp/],
    ['no :authority', without(':authority'), 400, /:authority/],
    ['no :path', without(':path'), 400, /:scheme and :path/],
    ['no :scheme', without(':scheme'), 400, /:scheme and :path/],
    ['no Sec-WebSocket-Version', without('sec-websocket-version'), 400, /Version/, { 'sec-websocket-version': '13' }],
    ['version 8', { ...CHROMIUM, 'sec-websocket-version': '8' }, 400, /13/, { 'sec-websocket-version': '13' }],
    ['a subprotocol that is not a token', { ...CHROMIUM, 'sec-websocket-protocol': 'a b' }, 400, /Protocol/],
  ];
  for (const [what, headers, status, message, extra] of refusals) {
    it(`refuses ${what} with ${status}`, () => {
      const v = checkConnectRequest(headers);
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.equal(v.status, status);
      assert.match(v.message, message);
      assert.deepEqual(v.headers, extra);
    });
  }

  it('never answers 426: it would need an Upgrade header, which HTTP/2 forbids (RFC 9113 §8.2.2)', () => {
    for (const [, headers] of refusals) {
      const v = checkConnectRequest(headers);
      assert.ok(!v.ok && v.status !== 426);
    }
  });
});

describe('connectResponse (§5)', () => {
  it('is a bare 200 when nothing was negotiated: no Sec-WebSocket-Accept, no Upgrade', () => {
    assert.deepEqual(connectResponse('', ''), { ':status': 200 });
  });

  it('names the subprotocol and the extension agreed', () => {
    assert.deepEqual(connectResponse('chat.v1', 'permessage-deflate; server_no_context_takeover'), {
      ':status': 200,
      'sec-websocket-protocol': 'chat.v1',
      'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
    });
  });
});

describe('connectRequest (the client’s §4 request)', () => {
  it('has the pseudo-headers of an extended CONNECT for the URL, version 13, lower-case fields', () => {
    const h = connectRequest(new URL('wss://example.com:8443/chat?room=a'), {
      Origin: 'https://example.com',
      'Sec-WebSocket-Protocol': 'chat.v1',
    });
    assert.deepEqual(h, {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/chat?room=a',
      ':authority': 'example.com:8443',
      'sec-websocket-version': '13',
      origin: 'https://example.com',
      'sec-websocket-protocol': 'chat.v1',
    });
  });

  it('uses :scheme http for ws://, and turns a Host header into :authority (RFC 9113 §8.3.1)', () => {
    const h = connectRequest(new URL('ws://127.0.0.1:9000/'), { Host: 'virtual.example' });
    assert.equal(h[':scheme'], 'http');
    assert.equal(h[':authority'], 'virtual.example');
    assert.equal(h.host, undefined);
  });
});

describe('checkConnectResponse', () => {
  it('returns the selected subprotocol of a 200, or ""', () => {
    assert.equal(checkConnectResponse(answer(200), ['a']), '');
    assert.equal(checkConnectResponse(answer(200, { 'sec-websocket-protocol': 'a' }), ['b', 'a']), 'a');
  });

  it('rejects any other status with a HandshakeError carrying it', () => {
    for (const status of [403, 404, 501, 101, 204]) {
      assert.throws(
        () => checkConnectResponse(answer(status), []),
        (err: unknown) => err instanceof HandshakeError && err.status === status && /instead of 200/.test(err.message),
      );
    }
  });

  it('rejects a subprotocol that was not offered, or more than one, with status 200', () => {
    for (const chosen of ['c', 'a, b']) {
      assert.throws(
        () => checkConnectResponse(answer(200, { 'sec-websocket-protocol': chosen }), ['a', 'b']),
        (err: unknown) => err instanceof HandshakeError && err.status === 200 && /subprotocol/.test(err.message),
      );
    }
  });
});
