import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';

/** Optional allow-list of source networks for the webhook route (`WEBHOOK_ALLOWED_CIDRS`). */
export function createSourceAllowList(cidrs: string | undefined): ((address: string) => boolean) | undefined {
  if (!cidrs) return undefined;
  const list = new BlockList();
  for (const entry of cidrs.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [network, prefixText] = entry.split('/');
    const type = network && isIPv4(network) ? 'ipv4' : network && isIPv6(network) ? 'ipv6' : undefined;
    const prefix = prefixText === undefined ? (type === 'ipv4' ? 32 : 128) : Number(prefixText);
    if (!network || !type || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) {
      throw new ConfigError('WEBHOOK_ALLOWED_CIDRS', `comma-separated CIDR ranges such as 10.0.0.0/8 (got "${entry}")`);
    }
    list.addSubnet(network, prefix, type);
  }
  return (address) => {
    const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
    const type = isIPv4(plain) ? 'ipv4' : 'ipv6';
    return list.check(plain, type);
  };
}
