// @ts-check
// A chat hub with rooms: clients join rooms and say things; the Hub delivers each line to everyone else in that
// room, framing it once for all of them. Three clients in one program: alice and bob in 'lobby', carol in 'games'.
// Run: node examples/chat-rooms.mjs
import { once } from 'node:events';
import { connect, Hub, WebSocketServer } from 'switchboard';

const hub = new Hub();
const wss = new WebSocketServer();
wss.on('connection', (conn, req) => {
  const name = new URL(req.url ?? '/', 'http://localhost').searchParams.get('name') ?? 'anonymous';
  conn.on('message', (msg) => {
    if (msg.type !== 'text') return;
    const { join, room, text } = JSON.parse(msg.data); // a real server validates what it parses
    if (join) {
      hub.subscribe(conn, join); // unsubscribed automatically when the connection closes
      conn.send(JSON.stringify({ joined: join, members: hub.subscribers(join) }));
    } else if (hub.topicsOf(conn).includes(room)) {
      hub.publish(room, JSON.stringify({ room, from: name, text }), { except: conn });
    }
  });
});
const { port } = await wss.listen(0, '127.0.0.1');

/** Connects as `name` and joins `room`; resolves once the server has subscribed it. @param {string} name @param {string} room */
async function join(name, room) {
  const conn = await connect(`ws://127.0.0.1:${port}/chat?name=${name}`);
  conn.send(JSON.stringify({ join: room }));
  const [reply] = await once(conn, 'message');
  console.log(`${name} joined ${room} (${JSON.parse(reply.data).members} there)`);
  return conn;
}
const alice = await join('alice', 'lobby');
const bob = await join('bob', 'lobby');
const carol = await join('carol', 'games');
carol.on('message', (msg) => console.log('carol got', msg.data)); // never called: nobody speaks in 'games'

const heard = once(bob, 'message');
alice.send(JSON.stringify({ room: 'lobby', text: 'hi bob' }));
const [line] = await heard;
const { from, text } = JSON.parse(line.data);
console.log(`bob got "${text}" from ${from}`);
console.log(`hub: ${hub.stats.published} published, ${hub.stats.delivered} delivered`);

await Promise.all([alice.close(), bob.close(), carol.close()]);
await wss.close();
