import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../src/adobe/dispatcher.js';

/**
 * undici 8 speaks HTTP/2 whenever a TLS server offers it (ALPN); undici 7 did not. The relay's
 * dispatcher stays on HTTP/1.1: its sockets per origin, the delivery concurrency and the timeouts
 * were sized and measured for one request per socket, and on HTTP/2 one reset connection would
 * fail every batch in flight at once. A server offering both shows which one the client picks.
 *
 * The certificate is a self-signed test one for IP 127.0.0.1 (test/fixtures/tls), made with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
 * -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1`.
 */
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'tls');
const cert = readFileSync(join(fixtures, '127.0.0.1.crt'), 'utf8');
const key = readFileSync(join(fixtures, '127.0.0.1.key'), 'utf8');

let server: Http2SecureServer;
let origin: string;
const defaultCAs = getCACertificates('default');

beforeAll(async () => {
  // Trusted the way a public CA is (no option on the dispatcher), for this test file's process only.
  setDefaultCACertificates([...defaultCAs, cert]);
  server = createSecureServer({ cert, key, allowHTTP1: true }, (req, res) => res.end(req.httpVersion));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  setDefaultCACertificates(defaultCAs);
  server.close();
  await once(server, 'close');
});

async function httpVersionWith(dispatcher: Dispatcher): Promise<string> {
  try {
    const res = await request(`${origin}/`, { dispatcher });
    return await res.body.text();
  } finally {
    await dispatcher.close();
  }
}

describe('the outbound dispatcher', () => {
  it('talks HTTP/1.1 to a server that also offers HTTP/2', async () => {
    expect(await httpVersionWith(createDispatcher())).toBe('1.1');
  });

  it('(the check itself) sees HTTP/2 from a default undici 8 Agent', async () => {
    expect(await httpVersionWith(new Agent())).toBe('2.0');
  });
});
