import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** The proxies whose X-Forwarded-For is believed: the ingress controller's addresses. */
export interface TrustedProxies {
  /** Whether a direct peer at `address` is one of them. */
  trusts(address: string): boolean;
  readonly cidrs: readonly string[];
}

const unmapped = (address: string) => (address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

/**
 * Parses `TRUSTED_PROXY_CIDRS` (comma-separated, e.g. `10.0.0.0/8, fd00::/8`; a bare address is
 * its own /32 or /128). Throws naming the first entry that is not a CIDR.
 */
export function parseTrustedProxies(list: string): TrustedProxies {
  const blocks = new BlockList();
  const cidrs = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const cidr of cidrs) {
    const [address = '', bits, extra] = cidr.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (
      family === 0 ||
      extra !== undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (family === 6 ? 128 : 32) ||
      (bits !== undefined && !/^\d+$/.test(bits))
    ) {
      throw new Error(`${cidr} is not a CIDR block (e.g. 10.0.0.0/8)`);
    }
    blocks.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    cidrs,
    trusts(address) {
      const a = unmapped(address);
      const family = isIP(a);
      return family !== 0 && cidrs.length > 0 && blocks.check(a, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/**
 * The client's address, the key of rate limits and passcode lockout. X-Forwarded-For is read
 * from the right, one hop per trusted proxy: the first address that is not a trusted proxy is
 * the client. A peer outside the trusted CIDRs (any pod, any client) is the client itself,
 * whatever header it sends, so nobody can pick their own key.
 */
export function clientAddress(req: IncomingMessage, trusted: TrustedProxies): string {
  let address = unmapped(req.socket.remoteAddress ?? '');
  if (!trusted.trusts(address)) return address || 'unknown';
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  while (hops.length > 0 && trusted.trusts(address)) {
    const next = unmapped(hops.pop() ?? '');
    // A malformed hop ends the walk: the last proxy that wrote a real address is the client then.
    if (isIP(next) === 0) break;
    address = next;
  }
  return address;
}
