// Validation and defaults for the limits every connection carries (one options object, checked at construction).
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE,
} from '../protocol/constants.js';
import { intOption, oneOf } from '../validate.js';
import type { ConnectionLimits } from './types.js';

/**
 * Frames one connection parses per event-loop turn before the rest of its read waits for the next turn. A 1-byte
 * fragment costs ~1 µs to parse, so a turn stays around a millisecond however many tiny frames a peer packs into one
 * read burst (libuv reads up to 32 × 64 KiB per socket per turn), while a window of normal messages is one turn.
 */
export const FRAMES_PER_TURN = 1024;

/** The option names of ConnectionLimits, for the unknown-key check of the objects that extend it. */
export const LIMIT_KEYS: readonly (keyof ConnectionLimits)[] = [
  'maxMessageSize',
  'maxFragments',
  'closeTimeout',
  'highWaterMark',
  'maxBufferedBytes',
  'onSlowConsumer',
];

export function resolveLimits(options: Partial<ConnectionLimits>): ConnectionLimits {
  const onSlowConsumer = oneOf('onSlowConsumer', options.onSlowConsumer, ['close', 'drop'] as const, 'close');
  const highWaterMark = intOption('highWaterMark', options.highWaterMark, DEFAULT_HIGH_WATER_MARK);
  const maxBufferedBytes = intOption('maxBufferedBytes', options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES);
  if (maxBufferedBytes < highWaterMark) {
    throw new RangeError(`maxBufferedBytes (${maxBufferedBytes}) must be at least highWaterMark (${highWaterMark})`);
  }
  return {
    maxMessageSize: intOption('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE),
    maxFragments: intOption('maxFragments', options.maxFragments, DEFAULT_MAX_FRAGMENTS),
    closeTimeout: intOption('closeTimeout', options.closeTimeout, DEFAULT_CLOSE_TIMEOUT),
    highWaterMark,
    maxBufferedBytes,
    onSlowConsumer,
  };
}
