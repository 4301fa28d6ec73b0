// An HTTP/2 stream as a Connection's transport (RFC 8441 §5): the frame layer reads and writes it as it would a TCP
// socket, and HTTP/2 flow control shows through writableLength, which is the send queue's backpressure signal.
import { constants, type Http2Stream } from 'node:http2';
import { Duplex } from 'node:stream';

const duplexDestroy = Duplex.prototype.destroy;

/**
 * §5: an orderly close is END_STREAM both ways (the Connection's end()), and an abort is "RST_STREAM with the CANCEL
 * error code". node's destroy() without an error resets with NO_ERROR instead, which tells the peer "done, stop
 * sending" (RFC 9113 §8.1), not "aborted". node flushes what the flow-control window lets out before the reset (an
 * idle stream's END_STREAM with it, as a TCP close sends its FIN); what the window holds back is dropped, so a peer that
 * stopped reading is reset at once.
 */
function destroyWithCancel(this: Http2Stream, err?: Error): Http2Stream {
  if (err == null && !this.closed && !this.destroyed) this.close(constants.NGHTTP2_CANCEL);
  return duplexDestroy.call(this, err) as Http2Stream;
}

/**
 * Readies an open extended CONNECT stream for `new Connection(stream, ...)`: its destroy() resets with CANCEL, and
 * it reports the session's remote address as a socket would. The session itself is never ended from here: closing
 * one WebSocket closes its stream only.
 */
export function streamTransport(stream: Http2Stream): Duplex {
  Object.defineProperty(stream, 'destroy', { value: destroyWithCancel, configurable: true, writable: true });
  Object.defineProperty(stream, 'remoteAddress', { value: stream.session?.socket.remoteAddress, configurable: true });
  return stream;
}
