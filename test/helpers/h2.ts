// HTTP/2 for the RFC 8441 tests: a throwaway certificate made with openssl, node:http2 servers (h2 over TLS with
// allowHTTP1, or h2c) closed when the test ends, and a hand-written extended CONNECT client on node:http2 that does
// not use src/http2, so it can check it.
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as h2connect,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureServerOptions,
  type ServerHttp2Session,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCertificate } from './certificate.js';
import { RawPeer, within } from './raw-peer.js';

/** Where cleanups go: a test's context, or a suite's own list (see http2-conformance.test.ts). */
export interface Scope {
  after(fn: () => unknown): void;
}

export interface Certificate {
  key: Buffer;
  cert: Buffer;
}

let made: Promise<Certificate> | null = null;

/**
 * A self-signed P-256 certificate for localhost and 127.0.0.1, made once per test process. The files live only while
 * openssl writes them: key and certificate are read into memory and the folder removed (keys are never kept).
 */
export function certificate(): Promise<Certificate> {
  made ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-h2-cert-'));
    try {
      const files = await writeCertificate(dir);
      return { key: await readFile(files.keyFile), cert: await readFile(files.certFile) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return made;
}

export interface H2Server<S extends Http2SecureServer | Http2Server = Http2SecureServer | Http2Server> {
  server: S;
  port: number;
  /** https://127.0.0.1:port (or http:// for h2c). */
  origin: string;
  /** Every HTTP/2 session the server has accepted so far. */
  sessions: ServerHttp2Session[];
}

/**
 * An h2 server over TLS with HTTP/1.1 beside it (allowHTTP1), `handler` answering ordinary requests, on 127.0.0.1:0,
 * closed (with every session) when the test ends. `setup` attaches what the test needs before it listens.
 */
export async function startH2Server(
  t: Scope,
  setup: (server: Http2SecureServer) => void,
  options: Partial<SecureServerOptions> = {},
): Promise<H2Server<Http2SecureServer>> {
  const { key, cert } = await certificate();
  const server = createSecureServer({ key, cert, allowHTTP1: true, ...options }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('page\n');
  });
  return listen(t, server, setup, 'https');
}

/** The same in plain text (h2c, prior knowledge): no TLS, no HTTP/1.1. */
export function startH2cServer(t: Scope, setup: (server: Http2Server) => void): Promise<H2Server<Http2Server>> {
  return listen(t, createServer(), setup, 'http');
}

async function listen<S extends Http2SecureServer | Http2Server>(
  t: Scope,
  server: S,
  setup: (server: S) => void,
  scheme: string,
): Promise<H2Server<S>> {
  const sessions: ServerHttp2Session[] = [];
  server.on('session', (s: ServerHttp2Session) => {
    sessions.push(s);
  });
  // Node 26 ends a destroyed h2c session's socket gracefully (it stays half-open until the client's FIN), and the
  // client sessions are closed by hooks that run after this one: those sockets themselves must go. Not the TLS ones:
  // destroying a TLS socket right after its session (with a flow-controlled stream pending) spins Node 20 in native
  // code, and Node 26 closes TLS sessions' sockets by itself.
  const sockets = new Set<Socket>();
  if (scheme === 'http') {
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  setup(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sessions) s.destroy();
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  const port = (server.address() as AddressInfo).port;
  return { server, port, origin: `${scheme}://127.0.0.1:${port}`, sessions };
}

/** A client session of our own making (node:http2, certificate not checked), its SETTINGS received; closed after the test. */
export async function openSession(t: Scope, origin: string): Promise<ClientHttp2Session> {
  const session = h2connect(origin, { rejectUnauthorized: false });
  session.on('error', () => {
    // Tests that kill sessions look at their streams; the session's own error needs a listener only.
  });
  t.after(() => session.destroy());
  await within(once(session, 'remoteSettings'), 5_000, `the SETTINGS of ${origin}`);
  return session;
}

export interface ConnectAnswer {
  stream: ClientHttp2Stream;
  status: number;
  headers: IncomingHttpHeaders;
  /** Resolves when the stream has closed, with its RST_STREAM code (0: NO_ERROR, or closed by END_STREAM both ways). */
  closed: Promise<number>;
}

/** Sends an extended CONNECT (RFC 8441 §4) for `path` with `headers` (a null value removes a default) and awaits the answer. */
export async function extendedConnect(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string | null> = {},
): Promise<ConnectAnswer> {
  const fields: OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':path': path,
    'sec-websocket-version': '13',
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) delete fields[name];
    else fields[name] = value;
  }
  const stream = session.request(fields, { endStream: false });
  stream.on('error', () => {
    // A reset shows in rstCode and 'close'; tests assert on those.
  });
  // Not events.once: it would reject on the 'error' that precedes a reset's 'close'.
  const closed = new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode)));
  const [answer] = (await within(once(stream, 'response'), 5_000, `the answer to CONNECT ${path}`)) as [
    IncomingHttpHeaders,
  ];
  return { stream, status: Number(answer[':status']), headers: answer, closed };
}

/** The body of a refused CONNECT, read to its END_STREAM. */
export async function bodyOf(answer: ConnectAnswer): Promise<string> {
  const parts: Buffer[] = [];
  answer.stream.on('data', (c: Buffer) => parts.push(c));
  await within(once(answer.stream, 'end'), 5_000, 'the body of the refusal');
  return Buffer.concat(parts).toString();
}

/**
 * Opens a WebSocket on `path` over `session` and returns a raw peer on its stream; fails unless the answer is 200.
 * `answerEnd` false leaves the server's END_STREAM unanswered (see RawPeer.over).
 */
export async function openH2Peer(
  t: Scope,
  session: ClientHttp2Session,
  path = '/echo',
  headers: Record<string, string | null> = {},
  answerEnd = true,
): Promise<RawPeer & ConnectAnswer> {
  const answer = await extendedConnect(session, path, headers);
  if (answer.status !== 200) throw new Error(`CONNECT ${path} answered ${answer.status}: ${await bodyOf(answer)}`);
  const peer = RawPeer.over(answer.stream, answerEnd);
  t.after(() => peer.destroy());
  return Object.assign(peer, answer);
}
