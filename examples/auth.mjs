// @ts-check
// Token auth in `authorize`: the handshake is refused with 401 when no token comes, 403 when it is wrong, and
// accepted with a token from the `Authorization: Bearer` header or, for browsers (which cannot set headers on a
// WebSocket), from the query string. Four clients try in turn.
// Run: node examples/auth.mjs
import { connect, HandshakeError, WebSocketServer } from 'switchboard';

const USERS = new Map([['s3cret-token', 'alice']]); // token → user; a real server asks its session store

/** @param {import('switchboard').WebSocketRequest} req */
function tokenOf(req) {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
  return new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
}

const wss = new WebSocketServer({
  // Runs after the origin policy, before the 101: true accepts, false refuses with 403, a number is the status.
  authorize: (req) => {
    const token = tokenOf(req);
    if (token === null) return 401;
    return USERS.has(token); // may also be async, e.g. a database lookup
  },
});
wss.on('connection', (conn, req) => conn.send(`welcome, ${USERS.get(tokenOf(req) ?? '')}`));
const { port } = await wss.listen(0, '127.0.0.1');
const url = `ws://127.0.0.1:${port}/`;

/** @param {string} what @param {string} target @param {Record<string, string>} [headers] */
async function attempt(what, target, headers = {}) {
  try {
    const conn = await connect(target, { headers });
    for await (const msg of conn) {
      console.log(`${what}: accepted, server says "${msg.data}"`);
      break;
    }
    await conn.close();
  } catch (err) {
    if (!(err instanceof HandshakeError)) throw err;
    console.log(`${what}: refused with ${err.status} (${err.body.trim()})`);
  }
}
await attempt('no token', url);
await attempt('wrong token', url, { Authorization: 'Bearer guess' });
await attempt('token in a header', url, { Authorization: 'Bearer s3cret-token' });
await attempt('token in the query', `${url}?token=s3cret-token`);
await wss.close();
