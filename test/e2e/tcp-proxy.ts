// A TCP proxy in front of a demo server, so a browser test can cut a page's network — both directions at once, no
// close frame, as a dropped Wi-Fi does — while the server keeps running, and then let it through again.
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** The page URL through the proxy, e.g. http://127.0.0.1:PORT. */
  url: string;
  /**
   * Drops every connection through it, and refuses new ones until restore(). With `serverNotices` false only the
   * page's side is dropped: the server keeps its end open, as when a network dies without a word.
   */
  cut(serverNotices?: boolean): void;
  restore(): void;
  close(): Promise<void>;
}

export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let passing = true;
  const server = createServer((client) => {
    if (!passing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    for (const s of pair) s.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  /** Server ends left open by a cut the server was not to notice, closed with the proxy. */
  const ghosts = new Set<Socket>();
  const dropAll = (serverNotices = true): void => {
    for (const [client, upstream] of pairs) {
      if (serverNotices) {
        client.destroy();
        upstream.destroy();
        continue;
      }
      for (const s of [client, upstream])
        s.removeAllListeners('close')
          .removeAllListeners('error')
          .on('error', () => {});
      upstream.unpipe(client);
      client.destroy();
      ghosts.add(upstream);
    }
    pairs.clear();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut(serverNotices = true) {
      passing = false;
      dropAll(serverNotices);
    },
    restore() {
      passing = true;
    },
    close: () =>
      new Promise((resolve) => {
        dropAll();
        for (const s of ghosts) s.destroy();
        server.close(() => resolve());
      }),
  };
}
