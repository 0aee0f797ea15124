import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Listen and stop for fake servers, the tests' (test/helpers/fake-server.ts) and the benchmarks':
 * `stop()` closes the server and destroys its open keep-alive sockets at once (an outage the relay
 * sees as refused connections), and `listen(port)` takes the same port again when it comes back.
 */
export function stoppable(server: http.Server) {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
    });
  return { listen, stop };
}
