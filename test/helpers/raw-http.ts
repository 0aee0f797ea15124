import { connect } from 'node:net';

export interface HeadOnlyAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True once the relay closed the connection (it never got the body it was promised). */
  closed: Promise<true>;
}

/**
 * Sends a request line and headers that promise a body (`Content-Length`), and never sends the
 * body. A relay that reads a body before answering cannot answer this at all (until its request
 * timeout, which tests set far beyond their own), so any answer proves it was given from the
 * request line and headers alone.
 */
export function sendHeadersOnly(url: string, method: string, path: string, headers: Record<string, string>): Promise<HeadOnlyAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const { promise: closed, resolve: resolveClosed } = Promise.withResolvers<true>();
    socket.once('close', () => resolveClosed(true));
    socket.once('error', reject);
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...headerLines] = received.slice(0, end).split('\r\n');
      const answerHeaders = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = Number(answerHeaders['content-length'] ?? 0);
      if (received.length < end + 4 + length) return;
      socket.removeAllListeners('data');
      resolve({ status: Number(statusLine.split(' ')[1]), headers: answerHeaders, body: received.slice(end + 4, end + 4 + length), closed });
    });
  });
}
