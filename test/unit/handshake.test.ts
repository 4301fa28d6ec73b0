// The opening handshake (RFC 6455 §4): accept key, header token lists, the server's request checks and origin policy,
// and the client's checks of the 101 response.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { HandshakeError } from '../../src/errors.js';
import { acceptKey, generateKey, isValidKey } from '../../src/handshake/accept-key.js';
import { checkUpgradeResponse, upgradeHeaders } from '../../src/handshake/client-handshake.js';
import {
  acceptResponse,
  checkUpgradeRequest,
  type HandshakeVerdict,
  isOriginAllowed,
  selectProtocol,
  type UpgradeRequest,
} from '../../src/handshake/server-handshake.js';
import { isToken, listHasToken, splitList, validateProtocols } from '../../src/handshake/tokens.js';

const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

describe('accept key (§1.3, §4.2.2)', () => {
  it('derives the RFC 6455 §1.3 example', () => {
    assert.equal(acceptKey(RFC_KEY), RFC_ACCEPT);
  });

  it('isValidKey accepts base64 of 16 bytes only', () => {
    assert.equal(isValidKey(RFC_KEY), true);
    assert.equal(isValidKey('AAAAAAAAAAAAAAAAAAAAAA=='), true);
    assert.equal(isValidKey('a+/9zZAAAAAAAAAAAAAAAA=='), true);
    for (const bad of [
      undefined,
      '',
      'dGhlIHNhbXBsZSBub25jZQ=', // 23 characters
      'dGhlIHNhbXBsZSBub25jZQ===',
      'dGhlIHNhbXBsZSBub25jZQAA', // no padding: not 16 bytes
      'dGhlIHNhbXBsZSBub25jZ===',
      'dGhlIHNhbXBsZSBub25j-Q==', // base64url alphabet
      'dGhlIHNhbXBsZSBub25j_Q==',
      ' dGhlIHNhbXBsZSBub25jZQ==',
      'dGhlIHNhbXBsZSBub25jZQ== ',
      'dGhlIHNhbXBsZSBub25jZQ==\n',
      'dGhlIHNhbXBsZSBub25jZSBhbmQgbW9yZQ==', // 26 bytes
    ]) {
      assert.equal(isValidKey(bad), false, `${JSON.stringify(bad)} is not a valid key`);
    }
  });

  it('generateKey makes valid, distinct keys', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const k = generateKey();
      assert.equal(isValidKey(k), true, k);
      assert.equal(Buffer.from(k, 'base64').length, 16);
      keys.add(k);
    }
    assert.equal(keys.size, 100);
  });
});

describe('header token lists (RFC 7230 §3.2.6, §7)', () => {
  it('isToken', () => {
    for (const t of ['chat', 'chat.v1', 'x-y_z', "!#$%&'*+-.^_`|~", 'A9']) assert.equal(isToken(t), true, t);
    for (const t of ['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a/b', 'a\tb', 'é', '(a)', 'a:b', '[a]', '{a}', 'a?']) {
      assert.equal(isToken(t), false, JSON.stringify(t));
    }
  });

  it('splitList trims, drops empty elements, and joins repeated headers', () => {
    assert.deepEqual(splitList(undefined), []);
    assert.deepEqual(splitList(''), []);
    assert.deepEqual(splitList('a'), ['a']);
    assert.deepEqual(splitList(' a ,b,\t c\t'), ['a', 'b', 'c']);
    assert.deepEqual(splitList('a,,b, ,'), ['a', 'b']);
    assert.deepEqual(splitList(['a, b', 'c', ' d ']), ['a', 'b', 'c', 'd']);
    assert.deepEqual(splitList([]), []);
  });

  it('listHasToken is case-insensitive and reads arrays', () => {
    assert.equal(listHasToken('keep-alive, Upgrade', 'upgrade'), true);
    assert.equal(listHasToken('UPGRADE', 'upgrade'), true);
    assert.equal(listHasToken(['keep-alive', 'upgrade'], 'Upgrade'), true);
    assert.equal(listHasToken(' \tupgrade\t ', 'upgrade'), true);
    assert.equal(listHasToken('keep-alive', 'upgrade'), false);
    assert.equal(listHasToken('upgrades', 'upgrade'), false);
    assert.equal(listHasToken('upgrade-insecure', 'upgrade'), false);
    assert.equal(listHasToken(undefined, 'upgrade'), false);
  });

  it('validateProtocols refuses non-tokens and duplicates with TypeError', () => {
    validateProtocols([]);
    validateProtocols(['chat', 'superchat']);
    assert.throws(() => validateProtocols(['chat', 'bad name']), TypeError);
    assert.throws(() => validateProtocols(['']), TypeError);
    assert.throws(() => validateProtocols(['a,b']), TypeError);
    assert.throws(() => validateProtocols(['chat', 'chat']), TypeError);
  });
});

function request(overrides: Partial<UpgradeRequest> = {}, headers: IncomingHttpHeaders = {}): UpgradeRequest {
  return {
    method: 'GET',
    httpVersion: '1.1',
    ...overrides,
    headers: {
      host: 'example.com:8080',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': RFC_KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
  };
}

/** A request with one header removed. */
function without(name: string): UpgradeRequest {
  const req = request();
  delete req.headers[name];
  return req;
}

function refusal(verdict: HandshakeVerdict): { status: number; headers?: Record<string, string> } {
  assert.equal(verdict.ok, false, 'the request must be refused');
  if (verdict.ok) throw new Error('unreachable');
  assert.equal(typeof verdict.message, 'string');
  return verdict;
}

describe('checkUpgradeRequest (§4.2.1)', () => {
  it('accepts a minimal valid request', () => {
    assert.deepEqual(checkUpgradeRequest(request()), { ok: true, key: RFC_KEY, offeredProtocols: [] });
  });

  it('accepts header lists and any letter case', () => {
    const verdict = checkUpgradeRequest(
      request(
        { httpVersion: '1.1' },
        {
          upgrade: 'WebSocket',
          connection: 'keep-alive, UPGRADE',
          'sec-websocket-protocol': 'chat.v2,  chat.v1 ,x',
        },
      ),
    );
    assert.deepEqual(verdict, { ok: true, key: RFC_KEY, offeredProtocols: ['chat.v2', 'chat.v1', 'x'] });
    assert.equal(checkUpgradeRequest(request({}, { upgrade: 'h2c, websocket' })).ok, true);
    assert.equal(checkUpgradeRequest(request({ httpVersion: '2.0' })).ok, true);
  });

  it('refuses every method but GET with 405 and Allow: GET', () => {
    for (const method of ['POST', 'PUT', 'HEAD', 'OPTIONS', 'CONNECT', 'get', undefined]) {
      const r = refusal(checkUpgradeRequest(request({ method })));
      assert.equal(r.status, 405, `method ${method}`);
      assert.deepEqual(r.headers, { Allow: 'GET' });
    }
  });

  it('refuses HTTP/1.0 (and older) with 400', () => {
    for (const httpVersion of ['1.0', '0.9']) {
      assert.equal(refusal(checkUpgradeRequest(request({ httpVersion }))).status, 400, httpVersion);
    }
  });

  it('refuses a missing or wrong Upgrade header with 400', () => {
    assert.equal(refusal(checkUpgradeRequest(without('upgrade'))).status, 400);
    for (const upgrade of ['h2c', 'web-socket', 'websockets', '']) {
      assert.equal(refusal(checkUpgradeRequest(request({}, { upgrade }))).status, 400, upgrade);
    }
  });

  it('refuses a missing or wrong Connection header with 400', () => {
    assert.equal(refusal(checkUpgradeRequest(without('connection'))).status, 400);
    for (const connection of ['keep-alive', 'close', 'upgrade-insecure', '']) {
      assert.equal(refusal(checkUpgradeRequest(request({}, { connection }))).status, 400, connection);
    }
  });

  it('answers 426 with Sec-WebSocket-Version: 13 to any other or a missing version', () => {
    const cases: UpgradeRequest[] = [without('sec-websocket-version')];
    for (const v of ['8', '7', '12', '14', '0', '', '13, 8', 'thirteen']) {
      cases.push(request({}, { 'sec-websocket-version': v }));
    }
    for (const req of cases) {
      const r = refusal(checkUpgradeRequest(req));
      assert.equal(r.status, 426, JSON.stringify(req.headers['sec-websocket-version']));
      assert.deepEqual(r.headers, { 'Sec-WebSocket-Version': '13' });
    }
  });

  it('refuses a missing or malformed Sec-WebSocket-Key with 400', () => {
    assert.equal(refusal(checkUpgradeRequest(without('sec-websocket-key'))).status, 400);
    for (const key of [
      '',
      'short',
      'dGhlIHNhbXBsZSBub25jZQ',
      'dGhlIHNhbXBsZSBub25jZSBhbmQgbW9yZQ==',
      '!!!!!!!!!!!!!!!!!!!!!!==',
    ]) {
      assert.equal(refusal(checkUpgradeRequest(request({}, { 'sec-websocket-key': key }))).status, 400, key);
    }
  });

  it('refuses an invalid subprotocol token with 400', () => {
    for (const protocol of ['chat v1', 'chat;v=1', 'chat, "quoted"', 'a/b', 'chat, é']) {
      const r = refusal(checkUpgradeRequest(request({}, { 'sec-websocket-protocol': protocol })));
      assert.equal(r.status, 400, protocol);
    }
  });

  it('checks in the RFC order: method, version, Upgrade, Connection, version header, key, protocols', () => {
    const everythingWrong = request(
      { method: 'POST', httpVersion: '1.0' },
      { upgrade: 'h2c', connection: 'close', 'sec-websocket-version': '8', 'sec-websocket-key': 'x' },
    );
    assert.equal(refusal(checkUpgradeRequest(everythingWrong)).status, 405);
    everythingWrong.method = 'GET';
    assert.equal(refusal(checkUpgradeRequest(everythingWrong)).status, 400);
    everythingWrong.httpVersion = '1.1';
    everythingWrong.headers.upgrade = 'websocket';
    everythingWrong.headers.connection = 'Upgrade';
    assert.equal(refusal(checkUpgradeRequest(everythingWrong)).status, 426);
  });
});

describe('isOriginAllowed', () => {
  describe("'same-origin' (the default)", () => {
    it('passes a request without an Origin header (not a browser)', () => {
      assert.equal(isOriginAllowed('same-origin', undefined, 'example.com'), true);
      assert.equal(isOriginAllowed('same-origin', undefined, undefined), true);
    });

    it('matches by host including the port, case-insensitively', () => {
      assert.equal(isOriginAllowed('same-origin', 'http://example.com:8080', 'example.com:8080'), true);
      assert.equal(isOriginAllowed('same-origin', 'https://EXAMPLE.com:8080', 'Example.COM:8080'), true);
      assert.equal(isOriginAllowed('same-origin', 'https://example.com', 'example.com'), true);
      assert.equal(isOriginAllowed('same-origin', 'http://127.0.0.1:3000', '127.0.0.1:3000'), true);
      assert.equal(isOriginAllowed('same-origin', 'http://[::1]:3000', '[::1]:3000'), true);
    });

    it('refuses another host or another port', () => {
      assert.equal(isOriginAllowed('same-origin', 'http://evil.com:8080', 'example.com:8080'), false);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com:8081', 'example.com:8080'), false);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com', 'example.com:8080'), false);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com:8080', 'example.com'), false);
      assert.equal(isOriginAllowed('same-origin', 'http://sub.example.com:8080', 'example.com:8080'), false);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com.evil.com:8080', 'example.com:8080'), false);
    });

    it('treats an explicit default port in Host like its absence, and refuses non-web schemes', () => {
      assert.equal(isOriginAllowed('same-origin', 'https://example.com', 'example.com:443'), true);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com', 'example.com:80'), true);
      assert.equal(isOriginAllowed('same-origin', 'https://example.com', 'example.com:80'), false);
      assert.equal(isOriginAllowed('same-origin', 'ftp://example.com:8080', 'example.com:8080'), false);
    });

    it('refuses the "null" origin, garbage, and a missing Host', () => {
      assert.equal(isOriginAllowed('same-origin', 'null', 'example.com'), false);
      assert.equal(isOriginAllowed('same-origin', '', 'example.com'), false);
      assert.equal(isOriginAllowed('same-origin', 'not a url', 'example.com'), false);
      assert.equal(isOriginAllowed('same-origin', 'example.com', 'example.com'), false);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com', undefined), false);
      assert.equal(isOriginAllowed('same-origin', 'http://example.com', ''), false);
    });
  });

  describe('allowlists', () => {
    const list = ['https://app.example.com', 'http://localhost:3000/', 'HTTPS://Admin.Example.com:443'];

    it('accepts listed origins after normalization (case, default port, trailing slash)', () => {
      for (const origin of [
        'https://app.example.com',
        'https://APP.example.com',
        'https://app.example.com:443',
        'http://localhost:3000',
        'https://admin.example.com',
      ]) {
        assert.equal(isOriginAllowed(list, origin, 'whatever:1'), true, origin);
      }
    });

    it('refuses other schemes, ports, hosts, "null" and garbage', () => {
      for (const origin of [
        'http://app.example.com',
        'https://app.example.com:8443',
        'https://evil.example.com',
        'https://app.example.com.evil.com',
        'http://localhost:3001',
        'null',
        '',
        'garbage',
      ]) {
        assert.equal(isOriginAllowed(list, origin, 'app.example.com'), false, origin);
      }
    });

    it('never matches "null", even when listed', () => {
      assert.equal(isOriginAllowed(['null'], 'null', 'example.com'), false);
    });

    it('an empty list refuses every browser origin and passes requests without Origin', () => {
      assert.equal(isOriginAllowed([], 'https://example.com', 'example.com'), false);
      assert.equal(isOriginAllowed([], undefined, 'example.com'), true);
    });
  });

  it("'*' allows everything", () => {
    for (const origin of ['https://a.example', 'null', 'garbage', undefined]) {
      assert.equal(isOriginAllowed('*', origin, 'example.com'), true);
    }
  });

  it('a function policy decides, given the origin and the host', () => {
    const calls: Array<[string, string]> = [];
    const policy = (origin: string, host: string): boolean => {
      calls.push([origin, host]);
      return origin.endsWith('.trusted.example');
    };
    assert.equal(isOriginAllowed(policy, 'https://a.trusted.example', 'example.com:1'), true);
    assert.equal(isOriginAllowed(policy, 'https://evil.example', 'example.com:1'), false);
    assert.equal(isOriginAllowed(policy, 'null', undefined), false);
    assert.equal(isOriginAllowed(policy, undefined, 'example.com'), true, 'no Origin: not consulted');
    assert.deepEqual(calls, [
      ['https://a.trusted.example', 'example.com:1'],
      ['https://evil.example', 'example.com:1'],
      ['null', ''],
    ]);
  });
});

describe('selectProtocol and acceptResponse', () => {
  it("selects the first of the server's protocols that the client offered", () => {
    assert.equal(selectProtocol(['chat.v2', 'chat.v1'], ['chat.v1', 'chat.v2']), 'chat.v2');
    assert.equal(selectProtocol(['chat.v1'], ['x', 'chat.v1']), 'chat.v1');
    assert.equal(selectProtocol(['chat.v1'], ['x']), '');
    assert.equal(selectProtocol([], ['x']), '');
    assert.equal(selectProtocol(['chat'], []), '');
  });

  it('builds the 101 response with the accept key and optional headers', () => {
    assert.equal(
      acceptResponse(RFC_KEY, '', ''),
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${RFC_ACCEPT}\r\n\r\n`,
    );
    const full = acceptResponse(RFC_KEY, 'chat', 'permessage-deflate');
    assert.ok(full.includes('\r\nSec-WebSocket-Protocol: chat\r\n'));
    assert.ok(full.includes('\r\nSec-WebSocket-Extensions: permessage-deflate\r\n'));
    assert.ok(full.endsWith('\r\n\r\n'));
  });
});

describe('client side (§4.1)', () => {
  it('upgradeHeaders', () => {
    assert.deepEqual(upgradeHeaders(RFC_KEY, [], ''), {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': RFC_KEY,
      'Sec-WebSocket-Version': '13',
    });
    const h = upgradeHeaders(RFC_KEY, ['a', 'b'], 'permessage-deflate');
    assert.equal(h['Sec-WebSocket-Protocol'], 'a, b');
    assert.equal(h['Sec-WebSocket-Extensions'], 'permessage-deflate');
  });

  const good = (extra: IncomingHttpHeaders = {}): IncomingHttpHeaders => ({
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': RFC_ACCEPT,
    ...extra,
  });

  function refused(headers: IncomingHttpHeaders, offered: readonly string[] = [], match?: RegExp): void {
    assert.throws(
      () => checkUpgradeResponse(headers, RFC_KEY, offered),
      (err: unknown) => {
        assert.ok(err instanceof HandshakeError);
        assert.equal(err.status, 101);
        if (match) assert.match(err.message, match);
        return true;
      },
    );
  }

  it('accepts a valid response and returns the selected protocol', () => {
    assert.equal(checkUpgradeResponse(good(), RFC_KEY, []), '');
    assert.equal(checkUpgradeResponse(good(), RFC_KEY, ['chat']), '');
    assert.equal(checkUpgradeResponse(good({ 'sec-websocket-protocol': 'chat' }), RFC_KEY, ['x', 'chat']), 'chat');
    assert.equal(
      checkUpgradeResponse(good({ upgrade: 'WebSocket', connection: 'keep-alive, upgrade' }), RFC_KEY, []),
      '',
    );
  });

  it('refuses a missing or wrong Upgrade header', () => {
    const { upgrade: _u, ...noUpgrade } = good();
    refused(noUpgrade, [], /Upgrade/);
    refused(good({ upgrade: 'h2c' }), [], /Upgrade/);
  });

  it('refuses a missing or wrong Connection header', () => {
    const { connection: _c, ...noConnection } = good();
    refused(noConnection, [], /Connection/);
    refused(good({ connection: 'keep-alive' }), [], /Connection/);
  });

  it('refuses a missing or wrong Sec-WebSocket-Accept', () => {
    const { 'sec-websocket-accept': _a, ...noAccept } = good();
    refused(noAccept, [], /missing/);
    refused(good({ 'sec-websocket-accept': acceptKey('AAAAAAAAAAAAAAAAAAAAAA==') }), [], /wrong/);
    refused(good({ 'sec-websocket-accept': RFC_ACCEPT.toLowerCase() }), [], /wrong/);
    refused(good({ 'sec-websocket-accept': RFC_KEY }), [], /wrong/);
  });

  it('refuses a protocol that was not offered, or more than one', () => {
    refused(good({ 'sec-websocket-protocol': 'chat' }), [], /not offered/);
    refused(good({ 'sec-websocket-protocol': 'other' }), ['chat'], /not offered/);
    refused(good({ 'sec-websocket-protocol': 'chat, x' }), ['chat', 'x'], /more than one/);
  });
});
