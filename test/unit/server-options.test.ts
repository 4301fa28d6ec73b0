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
});
