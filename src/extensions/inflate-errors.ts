// The two ways a received compressed message fails to inflate: the bytes are not valid DEFLATE (RFC 1951), or the
// output would exceed the message's limit. They are distinct classes so a caller maps them to distinct close codes.

/** The compressed data is not a valid DEFLATE stream (or ends mid-block); `message` names the fault. */
export class InflateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InflateError';
  }
}

/** The message's output would exceed `limit` bytes; decoding stopped there. */
export class InflateLimitError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`Decompressed message exceeds the limit of ${limit} bytes`);
    this.name = 'InflateLimitError';
    this.limit = limit;
  }
}
