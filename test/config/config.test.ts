import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { startRelay } from '../helpers/relay-process.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = { CAPILLARY_AUTH_SECRETS: 'config-test-secret-0123456789' };
const AEP = { AEP_INLET_URL: 'https://dcs.adobedc.net/collection/abc123', AEP_EVENT_DATASET_ID: 'ds-1', AEP_EVENT_SCHEMA_ID: 'https://ns.adobe.com/tenant/schemas/ee' };

/** The ConfigError loadConfig throws for `env` (fails the test when it does not throw one). */
function refusal(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('loadConfig refuses a bad configuration, naming the variable', () => {
  it.each<[string, NodeJS.ProcessEnv, string]>([
    ['no webhook secret and auth not explicitly disabled', {}, 'CAPILLARY_AUTH_SECRETS'],
    ['an empty webhook secret list', { CAPILLARY_AUTH_SECRETS: ' , ' }, 'CAPILLARY_AUTH_SECRETS'],
    ['auth disabled set to false', { CAPILLARY_AUTH_DISABLED: 'false' }, 'CAPILLARY_AUTH_SECRETS'],
    ['a PORT that is not a number', { ...BASE, PORT: '80a' }, 'PORT'],
    ['a PORT out of range', { ...BASE, PORT: '70000' }, 'PORT'],
    ['an AEP_INLET_URL that is not a URL', { ...BASE, AEP_INLET_URL: 'dcs.adobedc.net/collection/abc' }, 'AEP_INLET_URL'],
    ['an AEP_INLET_URL that is not http(s)', { ...BASE, AEP_INLET_URL: 'ftp://dcs.adobedc.net/collection/abc' }, 'AEP_INLET_URL'],
    ['an AEP_INLET_URL without the event dataset', { ...BASE, ...AEP, AEP_EVENT_DATASET_ID: undefined }, 'AEP_EVENT_DATASET_ID'],
    ['an AEP_INLET_URL without the event schema', { ...BASE, ...AEP, AEP_EVENT_SCHEMA_ID: undefined }, 'AEP_EVENT_SCHEMA_ID'],
    ['a client id without its secret', { ...BASE, ...AEP, ADOBE_CLIENT_ID: 'client' }, 'ADOBE_CLIENT_SECRET'],
    ['a client secret without its id', { ...BASE, ...AEP, ADOBE_CLIENT_SECRET: 'secret' }, 'ADOBE_CLIENT_ID'],
    ['a lease equal to the request timeout', { ...BASE, DELIVERY_LEASE_MS: '15000', DELIVERY_REQUEST_TIMEOUT_MS: '15000' }, 'DELIVERY_LEASE_MS'],
    ['a lease shorter than the request timeout', { ...BASE, DELIVERY_LEASE_MS: '5000' }, 'DELIVERY_LEASE_MS'],
    ['a dedup retention below 8 days (Capillary retries for 7)', { ...BASE, DEDUP_RETENTION_HOURS: '191' }, 'DEDUP_RETENTION_HOURS'],
    ['a profile dataset without its schema', { ...BASE, AEP_PROFILE_DATASET_ID: 'ds-p' }, 'AEP_PROFILE_SCHEMA_ID'],
    ['an unknown LOG_LEVEL', { ...BASE, LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    ['a STORE_MAX_SIZE_MB under 4 (readiness wants 2 MB of room under it)', { ...BASE, STORE_MAX_SIZE_MB: '3' }, 'STORE_MAX_SIZE_MB'],
    ['a STORE_URL of an unknown kind', { ...BASE, STORE_URL: 'mysql://db/relay' }, 'STORE_URL'],
    ['TRUST_PROXY=true (believes any forged X-Forwarded-For)', { ...BASE, TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    ['a TRUST_PROXY entry that is no address', { ...BASE, TRUST_PROXY: '10.0.0.1,proxy.internal' }, 'TRUST_PROXY'],
    ['a TRUST_PROXY CIDR with too long a prefix', { ...BASE, TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [".env.example's placeholder webhook secret", { CAPILLARY_AUTH_SECRETS: 'change-me-to-the-value-capillary-sends' }, 'CAPILLARY_AUTH_SECRETS'],
    ['a webhook secret under 16 characters', { CAPILLARY_AUTH_SECRETS: 'long-enough-secret-1,short-secret' }, 'CAPILLARY_AUTH_SECRETS'],
    ['an ADMIN_TOKEN under 32 characters', { ...BASE, ADMIN_TOKEN: 'a'.repeat(31) }, 'ADMIN_TOKEN'],
    ["Capillary's API URL without its key, secret and consumer group", { ...BASE, CAPILLARY_API_URL: 'https://eu.intouch.capillarytech.com' }, 'CAPILLARY_API_KEY'],
    ["Capillary's API without its consumer group", { ...BASE, CAPILLARY_API_URL: 'https://eu.intouch.capillarytech.com', CAPILLARY_API_KEY: 'k', CAPILLARY_API_SECRET: 's' }, 'CAPILLARY_CONSUMER_GROUP_ID'],
    ['an ACCOUNTING_INTERVAL_MS under a second', { ...BASE, ACCOUNTING_INTERVAL_MS: '999' }, 'ACCOUNTING_INTERVAL_MS'],
  ])('%s', (_why, env, variable) => {
    const error = refusal(env);
    expect(error.message.startsWith(`${variable}: expected `), error.message).toBe(true);
    expect(error.context['variable']).toBe(variable);
    expect(error.message).not.toContain('\n');
  });

  it.each(['CAPILLARY_AUTH_SECRETS', 'ADOBE_CLIENT_SECRET', 'CAPILLARY_API_SECRET', 'ADMIN_TOKEN'])('refuses both %s and %s_FILE', (name) => {
    const file = secretFile(`both-${name}`, 'from-file-0123456789');
    const error = refusal({ ...BASE, [name]: 'from-env', [`${name}_FILE`]: file });
    expect(error.message).toMatch(new RegExp(`^${name}_FILE: `));
    expect(error.message).not.toContain('from-env');
    expect(error.message).not.toContain('from-file-0123456789');
  });

  it.each(['CAPILLARY_AUTH_SECRETS', 'ADOBE_CLIENT_SECRET', 'ADMIN_TOKEN'])('refuses an unreadable %s_FILE, without printing any secret', (name) => {
    const missing = refusal({ ...BASE, [name]: undefined, [`${name}_FILE`]: join(dir, 'does-not-exist') });
    expect(missing.message).toMatch(new RegExp(`^${name}_FILE: expected a readable file`));
    const folder = refusal({ ...BASE, [name]: undefined, [`${name}_FILE`]: dir });
    expect(folder.message).toMatch(new RegExp(`^${name}_FILE: `));
  });

  // A folder cannot be read as a file by anyone, root included (EISDIR), unlike a chmod 000 file.
  it('refuses a _FILE the process cannot read', () => {
    const folder = dirname(secretFile('beside-a-folder', 'x'));
    expect(refusal({ ...BASE, ADMIN_TOKEN_FILE: folder }).message).toMatch(/^ADMIN_TOKEN_FILE: /);
  });
});

describe('TRUST_PROXY', () => {
  it('says why true is refused, and never echoes a secret', () => {
    expect(refusal({ ...BASE, TRUST_PROXY: 'true' }).message).toMatch(/forge/);
    expect(refusal({ CAPILLARY_AUTH_SECRETS: 'short-secret' }).message).not.toContain('short-secret');
  });

  it('takes false, a hop count, or proxy addresses and CIDRs', () => {
    expect(loadConfig({ ...BASE }).trustProxy).toBe(false);
    expect(loadConfig({ ...BASE, TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ ...BASE, TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,::1,loopback' }).trustProxy).toEqual(['10.0.0.0/8', '192.168.1.7', '::1', 'loopback']);
    const hops = loadConfig({ ...BASE, TRUST_PROXY: '2' }).trustProxy;
    expect(typeof hops).toBe('function');
    if (typeof hops !== 'function') return;
    expect([0, 1, 2].map((hop) => hops('203.0.113.9', hop))).toEqual([true, true, false]);
  });
});

describe('the store size cap', () => {
  it('is off unless STORE_MAX_SIZE_MB is set, and is handed to the store in bytes', () => {
    expect(loadConfig(BASE).store.maxSizeBytes).toBeUndefined();
    expect(loadConfig({ ...BASE, STORE_MAX_SIZE_MB: '512' }).store.maxSizeBytes).toBe(512 * 1024 * 1024);
  });
});

describe('listeners', () => {
  it('splits operations onto OPS_PORT (9464, on HOST) by default, and serves all on one port when it equals PORT', () => {
    expect(loadConfig({ ...BASE, HOST: '10.1.1.1' }).ops).toEqual({ port: 9464, host: '10.1.1.1' });
    expect(loadConfig({ ...BASE, OPS_HOST: '127.0.0.1' }).ops).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ ...BASE, PORT: '9000', OPS_PORT: '9000' }).ops).toBeUndefined();
    // Port 0 asks for any free port: two zeros are two listeners.
    expect(loadConfig({ ...BASE, PORT: '0', OPS_PORT: '0' }).ops).toEqual({ port: 0, host: '0.0.0.0' });
  });
});

describe('secrets from files (<NAME>_FILE), as Docker and Kubernetes mount them', () => {
  it('reads each secret from its file, dropping the one trailing newline editors add', () => {
    const config = loadConfig({
      CAPILLARY_AUTH_SECRETS_FILE: secretFile('capillary', 'current-secret-0123,previous-secret-0123\n'),
      ADOBE_CLIENT_SECRET_FILE: secretFile('adobe', 'p8e-client-secret\r\n'),
      ADMIN_TOKEN_FILE: secretFile('admin', 'admin-token-from-file-0123456789abcdef'),
      ADOBE_CLIENT_ID: 'client-id',
      ...AEP,
    });
    expect(config.auth.secrets).toEqual(['current-secret-0123', 'previous-secret-0123']);
    expect(config.adobe && 'clientSecret' in config.adobe ? config.adobe.clientSecret : undefined).toBe('p8e-client-secret');
    expect(config.adminToken).toBe('admin-token-from-file-0123456789abcdef');
  });

  it("reads Capillary's API secret from its file, and takes the API settings all together (issue 17)", () => {
    const config = loadConfig({
      ...BASE,
      CAPILLARY_API_URL: 'https://eu.intouch.capillarytech.com',
      CAPILLARY_API_KEY: 'client-key',
      CAPILLARY_API_SECRET_FILE: secretFile('capillary-api', 'capillary-api-secret\n'),
      CAPILLARY_CONSUMER_GROUP_ID: 'cg-1',
    });
    expect(config.routes[0]!.capillaryApi).toEqual({ url: 'https://eu.intouch.capillarytech.com', key: 'client-key', secret: 'capillary-api-secret', tokenHeader: 'X-CAP-API-OAUTH-TOKEN', consumerGroupId: 'cg-1' });
    expect(config.routes[0]!.platform).toEqual({ url: 'https://platform.adobe.io', sandboxName: 'prod', orgId: undefined, schemaValidation: 'hold' });
    expect(loadConfig(BASE).routes[0]!.capillaryApi).toBeUndefined();
  });

  it("takes a route's Capillary API secret in ROUTES_FILE as _ENV or _FILE only, never literally", () => {
    const route = (secret: string) =>
      `routes:\n  brand-a:\n    CAPILLARY_ORG_IDS: "100737"\n    CAPILLARY_AUTH_SECRETS_ENV: BRAND_A_WEBHOOK\n    CAPILLARY_API_URL: https://eu.intouch.capillarytech.com\n    CAPILLARY_API_KEY: brand-a-key\n    CAPILLARY_CONSUMER_GROUP_ID: cg-a\n    ${secret}\n`;
    const env = { ROUTES_FILE: secretFile('routes-capillary.yaml', route('CAPILLARY_API_SECRET_ENV: BRAND_A_CAPILLARY')), BRAND_A_WEBHOOK: 'brand-a-webhook-secret-0123', BRAND_A_CAPILLARY: 'brand-a-capillary-secret' };
    expect(loadConfig(env).routes[0]!.capillaryApi).toMatchObject({ key: 'brand-a-key', secret: 'brand-a-capillary-secret', consumerGroupId: 'cg-a' });
    const literal = refusal({ ...env, ROUTES_FILE: secretFile('routes-literal.yaml', route('CAPILLARY_API_SECRET: in-the-file')) });
    expect(literal.message).toMatch(/^ROUTES_FILE: routes\.brand-a\.CAPILLARY_API_SECRET: expected no secret in the routes file/);
  });

  it('treats an empty variable as unset, so X= beside X_FILE is not a conflict', () => {
    const config = loadConfig({ CAPILLARY_AUTH_SECRETS: '', CAPILLARY_AUTH_SECRETS_FILE: secretFile('empty-beside', 'from-file-0123456789') });
    expect(config.auth.secrets).toEqual(['from-file-0123456789']);
  });

  it('starts without secrets only when auth is explicitly disabled', () => {
    expect(loadConfig({ CAPILLARY_AUTH_DISABLED: 'true' }).auth).toEqual({ header: 'authorization', secrets: [], disabled: true });
  });
});

describe('the real process with a bad configuration', () => {
  it.each<[string, Record<string, string>, string]>([
    ['a malformed PORT', { ...BASE, PORT: 'eighty' }, 'PORT'],
    ['no webhook secret', {}, 'CAPILLARY_AUTH_SECRETS'],
    ['an unreadable secret file', { ...BASE, ADMIN_TOKEN_FILE: join(dir, 'nope') }, 'ADMIN_TOKEN_FILE'],
  ])('exits with code 78 and one line naming the variable: %s', async (_why, env, variable) => {
    const error = await startRelay({ STORE_URL: `sqlite:${join(dir, 'never.db')}`, DRY_RUN_FILE: join(dir, 'never.ndjson'), ...env }).then(
      (relay) => {
        void relay.kill();
        throw new Error('the relay started with a bad configuration');
      },
      (e: unknown) => e as Error,
    );
    const [header, ...lines] = error.message.split('\n');
    expect(header).toMatch(/exited before listening \(code 78,/);
    expect(lines.filter((l) => l.trim() !== '')).toEqual([expect.stringMatching(new RegExp(`^capillary-aep-relay: configuration error: ${variable}: expected `))]);
  });
});
