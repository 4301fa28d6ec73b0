// Validation and defaults for the limits every connection carries (one options object, checked at construction).
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE,
} from '../protocol/constants.js';
import type { ConnectionLimits } from './types.js';

export function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export function resolveLimits(options: Partial<ConnectionLimits>): ConnectionLimits {
  const policy = options.onSlowConsumer ?? 'close';
  if (policy !== 'close' && policy !== 'drop') {
    throw new TypeError(`onSlowConsumer must be 'close' or 'drop', got ${JSON.stringify(policy)}`);
  }
  const highWaterMark = positiveInt('highWaterMark', options.highWaterMark, DEFAULT_HIGH_WATER_MARK);
  const maxBufferedBytes = positiveInt('maxBufferedBytes', options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES);
  if (maxBufferedBytes < highWaterMark) {
    throw new RangeError(`maxBufferedBytes (${maxBufferedBytes}) must be at least highWaterMark (${highWaterMark})`);
  }
  return {
    maxMessageSize: positiveInt('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE),
    maxFragments: positiveInt('maxFragments', options.maxFragments, DEFAULT_MAX_FRAGMENTS),
    closeTimeout: positiveInt('closeTimeout', options.closeTimeout, DEFAULT_CLOSE_TIMEOUT),
    highWaterMark,
    maxBufferedBytes,
    onSlowConsumer: policy,
  };
}
