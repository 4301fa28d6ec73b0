// @ts-check
// Two nodes over Redis: two servers (in one program here, on two machines in production), each with a Hub whose
// adapter shares topics through Redis pub/sub and whose history lives in Redis Streams. alice on node 1 speaks before
// bob on node 2 joins: bob recovers her line from the shared history, then gets the next one live through Redis.
// Needs a redis-server, and `npm install redis` (an optional peer dependency of switchboard).
// Run: REDIS_URL=redis://127.0.0.1:6379 node examples/redis.mjs
import { connect, Hub, WebSocketServer } from 'switchboard';
import { redisAdapter, redisHistory } from 'switchboard/redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const topic = `room:${process.pid}`; // a fresh room per run, so its history holds only this run's lines

/** One node: a WebSocket server whose hub reaches every other node on the same Redis. */
async function startNode() {
  const hub = new Hub({
    adapter: redisAdapter({ url, maxBuffered: 1000, maxBufferedBytes: 8 << 20 }), // bounded buffer while Redis is away
    history: redisHistory({ url, maxCount: 1000, maxAgeMs: 600_000 }), // or memoryHistory() on a single node
  });
  // The adapter keeps retrying an unreachable Redis (an outage is not an error): say so rather than wait forever.
  const noRedis = setTimeout(() => {
    console.error(`no Redis answers at ${url}`);
    process.exit(1);
  }, 5_000);
  await hub.ready();
  clearTimeout(noRedis);
  const wss = new WebSocketServer();
  wss.on('connection', async (conn, req) => {
    const name = new URL(req.url ?? '/', 'http://localhost').searchParams.get('name');
    hub.subscribe(conn, topic); // subscribe first, then recover: together they miss nothing
    const { messages } = await hub.recover(topic);
    for (const { msg } of messages) conn.send(`(history) ${msg.data}`);
    conn.send('(joined)');
    conn.on('message', async (msg) => {
      await hub.publishRecorded(topic, `${name}: ${msg.data}`, { except: conn }); // rejects while Redis is away
      conn.send('(recorded)');
    });
  });
  const { port } = await wss.listen(0, '127.0.0.1');
  return { hub, wss, port };
}

/** Resolves when `conn` receives `text`. @param {import('switchboard').Connection} conn @param {string} text */
const hears = (conn, text) => new Promise((resolve) => conn.on('message', (msg) => msg.data === text && resolve(null)));

const node1 = await startNode();
const node2 = await startNode();
const alice = await connect(`ws://127.0.0.1:${node1.port}/?name=alice`);
await hears(alice, '(joined)');
alice.send('hello from node 1');
await hears(alice, '(recorded)');

const bob = await connect(`ws://127.0.0.1:${node2.port}/?name=bob`);
bob.on('message', (msg) => console.log(`bob (node 2) got: ${msg.data}`));
await hears(bob, '(joined)');
alice.send('still there?');
await hears(bob, 'alice: still there?');

await Promise.all([alice.close(), bob.close()]);
for (const node of [node1, node2]) {
  await node.wss.close();
  await node.hub.close(); // closes its Redis connections
}
