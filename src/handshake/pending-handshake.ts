// One opening handshake on its way through the server's checks, whatever carries it: an HTTP/1.1 upgrade
// (RFC 6455 §4.2) or an HTTP/2 extended CONNECT stream (RFC 8441 §5). The origin policy, authorize(), subprotocol and
// extension negotiation and shutdown treat both alike; only the answer on the wire differs.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Duplex } from 'node:stream';

/** What authorize() and a 'connection' listener receive: node's request object, HTTP/1.1 or HTTP/2. */
export type WebSocketRequest = IncomingMessage | Http2ServerRequest;

export interface Refusal {
  ok: false;
  status: number;
  message: string;
  headers?: Record<string, string>;
}

export interface PendingHandshake {
  readonly req: WebSocketRequest;
  /** The protocol's own request checks: what they found (`host`: Host or :authority), or why to refuse. */
  readonly verdict: { ok: true; host: string; offeredProtocols: readonly string[] } | Refusal;
  readonly origin: string | undefined;
  readonly extensionOffer: string | undefined;
  /** The peer went away, or something else answered the request, while authorize() was deciding. */
  readonly gone: boolean;
  /** Answers with an HTTP error status and ends the exchange (never leaves it hanging). */
  refuse(status: number, message: string, headers?: Record<string, string>): void;
  /** Sends the success answer; returns the Connection's transport and any bytes read past the request. */
  accept(protocol: string, extensions: string): { transport: Duplex; head: Buffer };
}
