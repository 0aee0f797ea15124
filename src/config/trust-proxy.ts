import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/**
 * What Fastify's `trustProxy` takes: believe no proxy, these addresses, or the nearest N hops (as
 * the function Fastify itself builds from a number, which its types do not admit).
 */
export type TrustProxy = false | string[] | ((address: string, hop: number) => boolean);

/** proxy-addr's names for address ranges (Fastify passes them through). */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const EXPECTED = 'false, a hop count, or comma-separated proxy addresses and CIDRs (e.g. 10.0.0.0/8,192.168.1.7)';

/**
 * `TRUST_PROXY`: whose `X-Forwarded-For` to believe for the client address that the allow-list,
 * the rate limit and the logs use. `true` would believe every hop, so any client could forge its
 * address past WEBHOOK_ALLOWED_CIDRS and into a fresh rate-limit bucket: it is refused.
 */
export function parseTrustProxy(value: string): TrustProxy {
  const text = value.trim().toLowerCase();
  if (text === 'false') return false;
  if (text === 'true') {
    throw new ConfigError('TRUST_PROXY', `${EXPECTED}; true is refused because it believes an X-Forwarded-For that any client can forge`);
  }
  if (/^\d{1,2}$/.test(text)) {
    const hops = Number(text);
    return hops === 0 ? false : (_address, hop) => hop < hops;
  }
  const entries = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length === 0) throw new ConfigError('TRUST_PROXY', EXPECTED);
  for (const entry of entries) {
    if (!RANGE_NAMES.has(entry) && !isAddressOrCidr(entry)) throw new ConfigError('TRUST_PROXY', `${EXPECTED} (got "${entry.slice(0, 64)}")`);
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return false;
  // BlockList refuses what proxy-addr would also refuse.
  try {
    new BlockList().addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
    return true;
  } catch {
    return false;
  }
}
