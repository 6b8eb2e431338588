import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

/**
 * The client's address, for throttling and alerts: the connection's peer, unless that peer is a
 * proxy named in TRUSTED_PROXIES (addresses, CIDR ranges or `loopback`, `linklocal`,
 * `uniquelocal`); then the nearest address in X-Forwarded-For that no trusted proxy wrote. Without
 * trusted proxies the header is ignored, so a client cannot pick its own address.
 * Throws on an entry that is not an address or range.
 */
export function clientAddressOf(trustedProxies: string[]): (req: IncomingMessage) => string {
  const trust = proxyaddr.compile(trustedProxies);
  return (req) => (req.socket.remoteAddress ? proxyaddr(req, trust) : 'unknown');
}

/**
 * The client a throttle counts an address as: an IPv4 address as itself (an IPv4-mapped IPv6 one,
 * `::ffff:203.0.113.5`, as the IPv4 address it is), another IPv6 address as its /64
 * (`2001:db8:1:2::/64`), since one subscriber holds at least a /64 and could rotate through its
 * addresses past any per-address limit. Anything that is no address is kept as it is.
 */
export function throttledClientOf(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  if (ip instanceof ipaddr.IPv4) return ip.toString();
  // RFC 5952's form: the host's four zero groups, with any ending the prefix, are the longest run, written `::`.
  const prefix = ip.parts.slice(0, 4);
  while (prefix.at(-1) === 0) prefix.pop();
  return `${prefix.map((part) => part.toString(16)).join(':')}::/64`;
}
