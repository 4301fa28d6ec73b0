// Why `switchboard connect` could not open a connection, in words a newcomer can act on: what an HTTP status means
// for a WebSocket handshake, what a network error code means, and which flag might help. Server text is escaped.
import { HandshakeError } from '../errors.js';
import { visible } from './terminal-text.js';

export interface Attempt {
  readonly url: URL;
  /** The --origin sent, if any. */
  readonly origin: string | undefined;
}

export function explainConnectFailure(err: unknown, attempt: Attempt): string {
  const detail = visible(err instanceof Error ? err.message : String(err));
  const advice =
    err instanceof HandshakeError
      ? err.status !== 0
        ? statusAdvice(err.status, attempt)
        : err.code === 'ERR_HANDSHAKE_TIMEOUT'
          ? 'the server took the TCP connection but never answered the WebSocket upgrade'
          : networkAdvice(causeCode(err), attempt.url)
      : '';
  return advice ? `${advice} (${detail})` : detail;
}

function statusAdvice(status: number, { url, origin }: Attempt): string {
  const ownOrigin = `${url.protocol === 'wss:' ? 'https' : 'http'}://${url.host}`;
  if (status === 101) return "the server's 101 answer breaks the WebSocket handshake (RFC 6455 §4.1)";
  if (status === 403) {
    const sent = origin === undefined ? 'no Origin was sent' : `the origin sent was ${origin}`;
    return (
      `the server refused the handshake (403): its origin policy did not allow this client (${sent}); ` +
      `try --origin ${ownOrigin} (the server's own origin) or an origin on its allowlist`
    );
  }
  if (status === 401) return 'the server wants credentials: send them with --header "Authorization: ..."';
  if (status === 404) return `there is no WebSocket endpoint at ${visible(url.pathname)} on this server`;
  if (status === 426) return 'the server wants an upgrade this client did not send (another WebSocket version?)';
  if (status === 400) return 'the server rejected the handshake request as malformed';
  if (status === 429 || status === 503) return 'the server is busy or shutting down: try again later';
  if (status >= 300 && status < 400) return 'the server redirects elsewhere; connect does not follow redirects';
  if (status >= 200 && status < 300) return 'that URL serves ordinary HTTP, not a WebSocket endpoint';
  if (status >= 500) return 'the server failed while answering the handshake';
  return `the server refused the handshake with HTTP ${status}`;
}

function networkAdvice(code: string | undefined, url: URL): string {
  const where = visible(url.host);
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing is listening on ${where} (is the server running? is the port right?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name ${visible(url.hostname)} does not resolve`;
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the server closed the connection in the middle of the handshake';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} cannot be reached from here`;
    default:
      return code?.startsWith('ERR_TLS') || code?.includes('CERT')
        ? 'the TLS handshake failed (certificate or protocol)'
        : '';
  }
}

/** The system error under a HandshakeError; for a host with several addresses node wraps them in an AggregateError. */
function causeCode(err: HandshakeError): string | undefined {
  const cause = err.cause as { code?: unknown; errors?: { code?: unknown }[] } | undefined;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  return typeof code === 'string' ? code : undefined;
}
