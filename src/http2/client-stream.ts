// The client's side of RFC 8441: opens a WebSocket as an extended CONNECT stream of an HTTP/2 session and waits for
// the server's answer, bounded by the handshake timeout and the caller's AbortSignal.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from 'node:http2';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Clock } from '../clock.js';
import { HandshakeError } from '../errors.js';
import { connectRequest } from './connect-request.js';
import { type Lease, leaseSession, ownSession } from './session-pool.js';

export interface StreamDial {
  url: URL;
  /** The caller's own session, or null for a pooled one to the URL's origin. */
  session: ClientHttp2Session | null;
  tls: TlsOptions | undefined;
  /** The caller's headers and the WebSocket ones (Origin, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions). */
  headers: Readonly<Record<string, string>>;
  timeout: number;
  clock: Clock;
  signal: AbortSignal | undefined;
}

export interface OpenedStream {
  stream: ClientHttp2Stream;
  /** The response headers (:status is whatever the server sent: the caller checks it). */
  headers: IncomingHttpHeaders & IncomingHttpStatusHeader;
}

/** A ClientHttp2Session from http2.connect() (node exports no class to test against). */
export function isClientSession(value: unknown): value is ClientHttp2Session {
  const s = value as Partial<ClientHttp2Session> | null;
  return typeof s === 'object' && s !== null && typeof s.request === 'function' && typeof s.ping === 'function';
}

/**
 * Resolves with the stream and its response once the server has answered, or null when the server does not speak
 * RFC 8441, so the caller falls back to HTTP/1.1. Rejects with a HandshakeError.
 */
export function openStream(dial: StreamDial): Promise<OpenedStream | null> {
  const { url, clock } = dial;
  const lease: Lease = dial.session
    ? ownSession(dial.session)
    : leaseSession(`${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}`, dial.tls);
  return new Promise((resolve, reject) => {
    let stream: ClientHttp2Stream | null = null;
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clock.clearTimeout(timer);
      dial.signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (err: HandshakeError): void => {
      if (!finish()) return;
      // RFC 8441 §5: giving up on a stream is a reset with CANCEL; the session stays up for the others.
      if (stream && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      lease.release();
      reject(err);
    };
    const failed = (err: Error): void =>
      fail(new HandshakeError('ERR_CONNECT_FAILED', `connection failed: ${err.message}`, { cause: err }));
    const onAbort = (): void => fail(new HandshakeError('ERR_ABORTED', 'connect aborted'));
    const timer = clock.setTimeout(
      () => fail(new HandshakeError('ERR_HANDSHAKE_TIMEOUT', `handshake timed out after ${dial.timeout} ms`)),
      dial.timeout,
    );
    dial.signal?.addEventListener('abort', onAbort, { once: true });

    lease.session.then((session) => {
      if (settled) return;
      if (!session) {
        finish();
        lease.release();
        resolve(null);
        return;
      }
      let s: ClientHttp2Stream;
      try {
        s = session.request(connectRequest(url, dial.headers), { endStream: false });
      } catch (err) {
        // node refuses connection-specific fields (Keep-Alive, Transfer-Encoding...) in HTTP/2 requests.
        failed(err as Error);
        return;
      }
      stream = s;
      s.once('close', lease.release);
      const onClose = (): void =>
        fail(
          new HandshakeError('ERR_CONNECT_FAILED', `the server reset the stream (code ${s.rstCode}) before answering`),
        );
      s.on('error', failed);
      s.once('close', onClose);
      s.once('response', (headers) => {
        s.off('error', failed);
        s.off('close', onClose);
        if (finish()) resolve({ stream: s, headers });
      });
    }, failed);
  });
}
