// Options of the Redis adapter and history, checked at construction (a typo throws naming it), and the reconnect
// back-off they configure, run on an injected clock against a port where nothing listens.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { RedisAdapter, RedisStreamHistory, redisAdapter, redisHistory } from '../../src/adapters/redis.js';
import { DEFAULT_RECONNECT, linkSettings, reconnectDelay } from '../../src/adapters/redis-link.js';
import { advanceUntil } from '../helpers/redis-clock.js';
import { ManualClock } from '../helpers/manual-clock.js';

type Ctor = (options: unknown) => unknown;
const adapter: Ctor = (o) => new RedisAdapter(o as never);
const history: Ctor = (o) => new RedisStreamHistory(o as never);

async function deadPort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

describe('redis options', () => {
  it('an unknown key throws naming it (a typo must not fall back to a default)', () => {
    assert.throws(() => adapter({ maxBuferred: 5 }), {
      name: 'TypeError',
      message: /RedisAdapter: unknown option "maxBuferred"/,
    });
    assert.throws(() => adapter({ reconnect: { initalDelay: 5 } }), /reconnect: unknown option "initalDelay"/);
    assert.throws(() => history({ maxCont: 5 }), /RedisStreamHistory: unknown option "maxCont"/);
    assert.throws(() => history({ channelPrefix: 'x' }), /unknown option "channelPrefix"/, 'an adapter option');
    assert.throws(() => adapter({ keyPrefix: 'x' }), /unknown option "keyPrefix"/, 'a history option');
  });

  it('a value of the wrong type or out of range throws naming the option', () => {
    const cases: Array<[Ctor, unknown, RegExp, 'TypeError' | 'RangeError']> = [
      [adapter, null, /RedisAdapter must be an object, got null/, 'TypeError'],
      [adapter, { url: 5 }, /url must be a string, got 5/, 'TypeError'],
      [adapter, { url: 'http://x' }, /unsupported scheme "http:"/, 'TypeError'],
      [adapter, { channelPrefix: '' }, /channelPrefix must be a non-empty string/, 'TypeError'],
      [adapter, { maxBuffered: '5' }, /maxBuffered must be a number, got "5"/, 'TypeError'],
      [adapter, { maxBuffered: -1 }, /maxBuffered must be an integer ≥ 0, got -1/, 'RangeError'],
      [adapter, { maxBufferedBytes: 1.5 }, /maxBufferedBytes must be an integer ≥ 0, got 1.5/, 'RangeError'],
      [adapter, { maxMessageSize: 0 }, /maxMessageSize must be an integer in 1\.\.4294967296, got 0/, 'RangeError'],
      [
        adapter,
        { resubscribeWait: Number.NaN },
        /resubscribeWait must be an integer in 0\.\.3600000, got NaN/,
        'RangeError',
      ],
      [adapter, { connectTimeout: 0 }, /connectTimeout must be an integer in 1\.\.3600000, got 0/, 'RangeError'],
      [
        adapter,
        { commandTimeout: Number.POSITIVE_INFINITY },
        /commandTimeout must be an integer in 1\.\.3600000, got Infinity/,
        'RangeError',
      ],
      [adapter, { closeTimeout: -1 }, /closeTimeout must be an integer in 0\.\.3600000, got -1/, 'RangeError'],
      [
        adapter,
        { healthCheckInterval: -5 },
        /healthCheckInterval must be an integer in 0\.\.3600000, got -5/,
        'RangeError',
      ],
      [adapter, { reconnect: 100 }, /reconnect must be an object, got 100/, 'TypeError'],
      [
        adapter,
        { reconnect: { initialDelay: 0 } },
        /reconnect.initialDelay must be an integer in 1\.\.3600000, got 0/,
        'RangeError',
      ],
      [
        adapter,
        { reconnect: { fastRetryFor: -1 } },
        /reconnect.fastRetryFor must be an integer in 0\.\.86400000, got -1/,
        'RangeError',
      ],
      [
        adapter,
        { reconnect: { initialDelay: 500, maxDelay: 100 } },
        /reconnect.maxDelay \(100\) must not be less/,
        'RangeError',
      ],
      [adapter, { clock: {} }, /clock must have now\(\), setTimeout\(fn, ms\) and clearTimeout\(handle\)/, 'TypeError'],
      [
        adapter,
        { clock: Date },
        /clock must have now\(\), setTimeout\(fn, ms\) and clearTimeout\(handle\)/,
        'TypeError',
      ],
      [history, [], /RedisStreamHistory must be an object, got an array/, 'TypeError'],
      [history, { keyPrefix: 3 }, /keyPrefix must be a non-empty string, got 3/, 'TypeError'],
      [history, { maxCount: 0 }, /maxCount must be an integer ≥ 1, got 0/, 'RangeError'],
      [history, { maxAgeMs: 2.5 }, /maxAgeMs must be an integer ≥ 1, got 2.5/, 'RangeError'],
      [history, { maxMessageSize: -1 }, /maxMessageSize must be an integer in 1\.\.4294967296, got -1/, 'RangeError'],
      [history, { commandTimeout: 0 }, /commandTimeout must be an integer in 1\.\.3600000, got 0/, 'RangeError'],
    ];
    for (const [make, options, message, name] of cases) {
      assert.throws(() => make(options), { name, message }, JSON.stringify(options));
    }
    assert.throws(() => redisAdapter('nope'), /not a URL: "nope"/);
    assert.throws(() => redisHistory({ url: 'redis://h/x' }), /the database in "redis:\/\/h\/x" must be a number/);
  });

  it('reconnect delays: initialDelay while the outage is young, then doubling up to maxDelay, each ±20 %', () => {
    const s = linkSettings({});
    assert.deepEqual(
      { initialDelay: s.initialDelay, fastRetryFor: s.fastRetryFor, maxDelay: s.maxDelay },
      DEFAULT_RECONNECT,
    );
    const range = (outageMs: number, attempt: number): [number, number] => [
      reconnectDelay(outageMs, attempt, s, 0),
      reconnectDelay(outageMs, attempt, s, 0.999_999),
    ];
    assert.deepEqual(range(0, 0), [80, 120]);
    assert.deepEqual(range(9_999, 0), [80, 120]);
    assert.deepEqual(range(10_000, 1), [160, 240]);
    assert.deepEqual(range(20_000, 3), [640, 960]);
    assert.deepEqual(range(60_000, 6), [4000, 6000]);
    assert.deepEqual(range(60_000, 60), [4000, 6000]);
  });

  it('the back-off runs on the injected clock: ~100 attempts in the first 10 s of an outage, then a few', async (t) => {
    const clock = new ManualClock();
    const store = redisHistory({ url: `redis://127.0.0.1:${await deadPort()}`, clock });
    t.after(() => store.close());
    // Each attempt is refused at once (real I/O); it is the clock alone that spaces them.
    await advanceUntil(clock, 'the fast phase over', () => clock.now() >= 10_000, { step: 20 });
    const fast = store.stats.errors;
    assert.ok(fast >= 10_000 / 120 - 1 && fast <= 10_000 / 80 + 1, `${fast} attempts in the first 10 s`);
    await advanceUntil(clock, '30 s later', () => clock.now() >= 40_000, { step: 100 });
    const slow = store.stats.errors - fast;
    // 200, 400, 800, 1600, 3200, then 5000 ms apart (±20 %): 9 or 10 attempts in 30 s.
    assert.ok(slow >= 7 && slow <= 12, `${slow} attempts in the next 30 s`);
    assert.equal(store.connected, false);
  });
});
