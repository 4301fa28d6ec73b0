// Misuse of WebSocketServer and connect() options throws at construction (TypeError / RangeError), naming the option.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, WebSocketServer } from '../../src/index.js';

describe('options are validated at once', () => {
  it('origins: a scheme-less entry, "*" inside a list, or an unknown keyword is a TypeError', () => {
    assert.throws(() => new WebSocketServer({ origins: ['app.example.com'] }), {
      name: 'TypeError',
      message: /app\.example\.com/,
    });
    assert.throws(() => new WebSocketServer({ origins: ['https://a.example', '*'] }), TypeError);
    assert.throws(() => new WebSocketServer({ origins: 'any' as never }), /origins must be/);
    assert.doesNotThrow(() => new WebSocketServer({ origins: ['https://app.example.com:8443'], heartbeat: false }));
  });

  it('limits and policies name what is wrong', () => {
    assert.throws(() => new WebSocketServer({ maxMessageSize: 0 }), { name: 'RangeError', message: /maxMessageSize/ });
    assert.throws(() => new WebSocketServer({ onSlowConsumer: 'ignore' as never }), /onSlowConsumer/);
    assert.throws(() => new WebSocketServer({ highWaterMark: 10, maxBufferedBytes: 5 }), /maxBufferedBytes/);
    assert.throws(() => new WebSocketServer({ protocols: ['bad name'] }), /subprotocol/);
    assert.throws(() => new WebSocketServer({ heartbeat: { interval: -1 } }), /heartbeat\.interval/);
  });

  it('connect() throws synchronously on a bad URL or option, before any I/O', () => {
    assert.throws(() => connect('ftp://127.0.0.1/'), TypeError);
    assert.throws(() => connect('ws://127.0.0.1/#frag'), /fragment/);
    assert.throws(() => connect('ws://127.0.0.1/', { headers: { 'Sec-WebSocket-Key': 'x' } }), TypeError);
    assert.throws(() => connect('ws://127.0.0.1/', { compression: { level: 42 } }), RangeError);
  });

  it('an unknown option is a TypeError naming it; a ws spelling names the switchboard option to use', () => {
    assert.throws(() => new WebSocketServer({ maxMesageSize: 10 } as never), {
      name: 'TypeError',
      message: /unknown option "maxMesageSize"/,
    });
    const ws: Array<[string, RegExp]> = [
      ['maxPayload', /maxMessageSize/],
      ['perMessageDeflate', /compression/],
      ['verifyClient', /authorize/],
      ['handleProtocols', /protocols/],
      ['noServer', /handleUpgrade/],
      ['port', /listen/],
      ['server', /attach/],
      ['clientTracking', /wss\.clients/],
    ];
    for (const [key, hint] of ws) {
      assert.throws(() => new WebSocketServer({ [key]: true } as never), { name: 'TypeError', message: hint }, key);
    }
    assert.throws(() => connect('ws://127.0.0.1/', { maxPayload: 1 } as never), /maxMessageSize/);
    assert.throws(() => connect('ws://127.0.0.1/', { perMessageDeflate: true } as never), /compression/);
    assert.throws(() => connect('ws://127.0.0.1/', { rejectUnauthorized: false } as never), /tls: \{/);
    assert.throws(() => connect('ws://127.0.0.1/', { followRedirects: true } as never), /redirects/);
    assert.throws(() => new WebSocketServer({ heartbeat: { intervall: 5 } } as never), /heartbeat: unknown option/);
  });

  it('every timeout and size is validated at construction', () => {
    for (const key of ['handshakeTimeout', 'shutdownTimeout', 'closeTimeout', 'maxHeaderSize', 'maxFragments']) {
      assert.throws(() => new WebSocketServer({ [key]: -1 }), { name: 'RangeError', message: new RegExp(key) }, key);
      assert.throws(() => new WebSocketServer({ [key]: '10' } as never), {
        name: 'TypeError',
        message: new RegExp(key),
      });
      assert.throws(() => new WebSocketServer({ [key]: 1.5 }), RangeError, key);
    }
    assert.throws(() => connect('ws://127.0.0.1/', { handshakeTimeout: 0 }), /handshakeTimeout/);
    assert.throws(() => new WebSocketServer({ authorize: 'yes' } as never), /authorize must be a function/);
    assert.throws(() => new WebSocketServer({ clock: {} } as never), /clock must have/);
    assert.throws(() => new WebSocketServer({ protocols: 'chat' } as never), /protocols must be an array/);
    assert.throws(() => connect('ws://127.0.0.1/', { headers: { 'X-A': 1 } } as never), /header X-A must be a string/);
    assert.throws(() => connect('ws://127.0.0.1/', { signal: {} } as never), /AbortSignal/);
    assert.throws(() => new WebSocketServer({ heartbeat: 'on' } as never), /heartbeat must be an object/);
    assert.doesNotThrow(() => new WebSocketServer({ heartbeat: true }));
  });
});
