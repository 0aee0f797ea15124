import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { consoleRoot } from '../../src/ops/console-plugin.js';
import { buildTestApp, type TestApp } from '../helpers/build-app.js';

/** The console's static files (src/ops/console-plugin.ts): the policy that guards them and their folder's walls. */
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The CSP's directives by name, e.g. `script-src` -> ["'self'"]. */
function directives(csp: string | undefined): Map<string, string[]> {
  return new Map((csp ?? '').split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!, values]));
}

/**
 * GET with the path sent exactly as written: app.inject and ordinary clients resolve `..` before
 * sending, a hostile client does not.
 */
function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('end', () => resolve({ status: Number(received.split(' ')[1]), body: received.slice(received.indexOf('\r\n\r\n') + 4) }));
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\nconnection: close\r\n\r\n`);
  });
}

describe('operator console files', () => {
  it('serves the page under a policy that forbids inline script, and the page needs none', async () => {
    t = await buildTestApp();
    expect((await t.app.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    const page = await t.app.inject({ method: 'GET', url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = directives(page.headers['content-security-policy'] as string | undefined);
    const scriptSrc = csp.get('script-src') ?? csp.get('default-src');
    expect(scriptSrc).toEqual(["'self'"]);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    for (const [name, values] of csp) {
      expect(values, name).not.toContain("'unsafe-inline'");
      expect(values, name).not.toContain("'unsafe-eval'");
    }
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    // Under this policy an inline <script> or on* handler would not run: the page must have none.
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(page.body).not.toMatch(/\son[a-z]+\s*=/i);
    const script = await t.app.inject({ method: 'GET', url: '/console/app.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.headers['content-security-policy']).toBe(page.headers['content-security-policy']);
    expect(script.body).toBe(readFileSync(`${consoleRoot()}app.js`, 'utf8'));
  });

  it('is off (404) when ADMIN_TOKEN is unset', async () => {
    t = await buildTestApp({ ADMIN_TOKEN: '' });
    expect((await t.app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(404);
  });

  it('serves no file outside its folder, however the path is spelled', async () => {
    t = await buildTestApp();
    const origin = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const packageJson = readFileSync('package.json', 'utf8');
    const attempts = [
      '/console/../package.json',
      '/console/../../package.json',
      '/console/%2e%2e/package.json',
      '/console/%2e%2e%2fpackage.json',
      '/console/..%2fpackage.json',
      '/console/..%2f..%2fpackage.json',
      '/console/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/console/..%5cpackage.json',
      '/console/%252e%252e%252fpackage.json',
      '/console/....//package.json',
      '/console//../package.json',
      '/console/views/../../admin-routes.ts',
      '/console/..%2fconsole-plugin.ts',
      '/console/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
    ];
    for (const path of attempts) {
      const answer = await rawGet(origin, path);
      expect(answer.status, path).toBe(404);
      expect(answer.body, path).not.toContain('"name": "capillary-aep-relay"');
      expect(answer.body, path).not.toContain('import ');
    }
    expect(packageJson).toContain('"name": "capillary-aep-relay"');
    // The same raw request for a file the console has is served: the 404s above are the walls.
    expect((await rawGet(origin, '/console/app.js')).status).toBe(200);
  });
});
