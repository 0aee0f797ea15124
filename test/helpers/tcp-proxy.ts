import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between the relay and a server, for network faults. `blackhole()` stops
 * forwarding in both directions without closing anything, as a lost route does: connections stay
 * open, bytes sent meanwhile are held (as TCP would keep retransmitting them), new connections are
 * accepted but get no answer. `resume()` forwards again, held bytes first.
 */
export interface TcpProxy {
  readonly port: number;
  /** Connections open through the proxy now. */
  readonly open: number;
  blackhole(): void;
  resume(): void;
  close(): Promise<void>;
}

interface Direction {
  from: net.Socket;
  to: net.Socket;
  held: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let blackholed = false;
  const directions = new Set<Direction>();
  const sockets = new Set<net.Socket>();

  const forward = (d: Direction) => {
    d.from.on('data', (chunk: Buffer) => {
      if (blackholed || d.held.length > 0) d.held.push(chunk);
      else d.to.write(chunk);
    });
    directions.add(d);
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair = [client, upstream];
    for (const socket of pair) {
      sockets.add(socket);
      socket.setNoDelay(true);
      // Either side closing (or failing) closes the other; held bytes go with it.
      socket.on('close', () => {
        sockets.delete(socket);
        for (const other of pair) other.destroy();
        for (const d of directions) if (d.from === socket || d.to === socket) directions.delete(d);
      });
      socket.on('error', () => socket.destroy());
    }
    forward({ from: client, to: upstream, held: [] });
    forward({ from: upstream, to: client, held: [] });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as net.AddressInfo).port,
    get open() {
      return Math.floor(sockets.size / 2);
    },
    blackhole() {
      blackholed = true;
    },
    resume() {
      blackholed = false;
      for (const d of directions) {
        for (const chunk of d.held.splice(0)) d.to.write(chunk);
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
