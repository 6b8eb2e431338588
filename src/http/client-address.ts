import type { IncomingMessage } from 'node:http';
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
