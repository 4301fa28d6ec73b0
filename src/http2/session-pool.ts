// The client's HTTP/2 sessions: one per origin (and TLS options) shared by every WebSocket that connect() opens with
// `http2: true`, made on first use and closed when its last WebSocket has closed; or the caller's own session.
// Either way the server's SETTINGS decide (RFC 8441 §3): without SETTINGS_ENABLE_CONNECT_PROTOCOL, fall back.
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

export interface Lease {
  /**
   * A session with room for one more stream, once the server's SETTINGS allow extended CONNECT; null when it answered
   * but does not speak RFC 8441 (or HTTP/2 at all), so the WebSocket should use HTTP/1.1. Rejects when the server
   * could not be reached.
   */
  readonly session: Promise<ClientHttp2Session | null>;
  /** The stream this lease was for has closed, or never opened. Idempotent. */
  release(): void;
}

interface Pooled {
  readonly key: string;
  readonly session: ClientHttp2Session;
  readonly tls: TlsOptions | undefined;
  readonly ready: Promise<boolean>;
  settled: boolean;
  /** Leases held, admitted or still waiting for the SETTINGS. */
  users: number;
  /** Leases given a stream slot. */
  admitted: number;
}

const pool = new Map<string, Pooled[]>();

/** RFC 9113 §6.5.2 advises servers to allow at least 100 concurrent streams: the bound until SETTINGS say. */
const ASSUMED_MAX_STREAMS = 100;

/**
 * A share of a pooled session to `origin` (an https: or http: URL origin), opening one when none has room. Leases
 * taken before a new session's SETTINGS arrive may find it allows fewer streams than assumed: the late ones move on.
 */
export function leaseSession(origin: string, tls: TlsOptions | undefined): Lease {
  let list = pool.get(origin);
  if (!list) {
    list = [];
    pool.set(origin, list);
  }
  let entry = list.find((e) => sameTls(e.tls, tls) && e.users < capacity(e));
  if (!entry) {
    entry = open(origin, tls);
    list.push(entry);
  }
  entry.users++;
  const held = entry;
  let admitted = false;
  let released = false;
  let moved: Lease | null = null;
  const leave = (): void => {
    if (admitted) held.admitted--;
    if (--held.users === 0) retire(held);
  };
  return {
    session: held.ready.then((ok) => {
      if (released) return null;
      if (!ok) return null;
      if (held.admitted < capacity(held)) {
        admitted = true;
        held.admitted++;
        return held.session;
      }
      // SETTINGS_MAX_CONCURRENT_STREAMS 0: another session to this server would say the same, and the next after it
      // (a connection storm until the handshake timeout). Fail instead.
      if (capacity(held) === 0) {
        released = true; // given back here: the caller's release() has nothing left to do
        leave();
        throw new Error('the server allows no streams on its HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS 0)');
      }
      leave();
      moved = leaseSession(origin, tls);
      return moved.session;
    }),
    release: () => {
      if (released) return;
      released = true;
      if (moved) moved.release();
      else leave();
    },
  };
}

/** The caller's own session (`http2: session`): used as it is, never closed here. */
export function ownSession(session: ClientHttp2Session): Lease {
  return { session: supportsConnect(session).then((ok) => (ok ? session : null)), release: () => {} };
}

function capacity(e: Pooled): number {
  return e.settled ? (e.session.remoteSettings.maxConcurrentStreams ?? ASSUMED_MAX_STREAMS) : ASSUMED_MAX_STREAMS;
}

function open(origin: string, tls: TlsOptions | undefined): Pooled {
  // Server push has no use here; refusing it up front saves the server the work.
  const session = http2Connect(origin, { ...tls, settings: { enablePush: false } });
  let connected = false;
  let settle: (ok: boolean) => void = () => {};
  let fail: (err: Error) => void = () => {};
  const entry: Pooled = {
    key: origin,
    session,
    tls,
    settled: false,
    users: 0,
    admitted: 0,
    ready: new Promise<boolean>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    }),
  };
  const decide = (ok: boolean): void => {
    if (entry.settled) return;
    entry.settled = true;
    settle(ok);
    if (!ok) retire(entry);
  };
  session.once('connect', () => {
    connected = true;
  });
  session.once('remoteSettings', (settings) => decide(settings.enableConnectProtocol === true));
  // A session error after the WebSockets opened reaches each of their streams; the session needs a listener anyway.
  session.on('error', (err: Error & { code?: string }) => {
    if (entry.settled) return;
    // It answered, but not in HTTP/2 (TLS without h2 in ALPN, or HTTP/1.1 bytes to our preface): fall back.
    if (connected || err.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') return decide(false);
    entry.settled = true;
    unlist(entry);
    fail(err);
  });
  session.once('close', () => {
    unlist(entry);
    decide(false);
  });
  // A GOAWAY takes no new streams; the ones open go on.
  session.once('goaway', () => unlist(entry));
  return entry;
}

/** No new leases; the session is closed once its streams are done (at once when it has none). */
function retire(entry: Pooled): void {
  unlist(entry);
  if (!entry.session.closed && !entry.session.destroyed) entry.session.close();
}

function unlist(entry: Pooled): void {
  const list = pool.get(entry.key);
  if (!list) return;
  const i = list.indexOf(entry);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) pool.delete(entry.key);
}

/**
 * Whether the server of an existing session allows extended CONNECT. Its SETTINGS may not have arrived yet, and
 * before they do node reports the defaults; a PING answers that: a server's SETTINGS are the first frame of its
 * connection preface (RFC 9113 §3.4), so they precede its PING ACK.
 */
function supportsConnect(session: ClientHttp2Session): Promise<boolean> {
  if (session.closed || session.destroyed) return Promise.reject(new Error('the HTTP/2 session is closed'));
  if (session.remoteSettings.enableConnectProtocol === true) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    const ask = (): void => {
      const sent = session.ping((err) => {
        if (err) reject(err);
        else resolve(session.remoteSettings.enableConnectProtocol === true);
      });
      if (!sent) reject(new Error('the HTTP/2 session cannot send a PING'));
    };
    if (session.connecting) session.once('connect', ask);
    else ask();
  });
}

/** Two connect() calls may share a session when their TLS options are the same values. */
function sameTls(a: TlsOptions | undefined, b: TlsOptions | undefined): boolean {
  if (a === b) return true;
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  if (ka.length !== kb.length) return false;
  const ra = (a ?? {}) as Record<string, unknown>;
  const rb = (b ?? {}) as Record<string, unknown>;
  return ka.every((k) => sameValue(ra[k], rb[k]));
}

function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return x.equals(y);
  if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => sameValue(v, y[i]));
  return false;
}
