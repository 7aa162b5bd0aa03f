import ipaddr from 'ipaddr.js';
import { lookup, LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Where webhooks may be sent: only to public unicast addresses (ipaddr.js's classification:
 * private, loopback, link-local, unique-local, carrier-grade NAT, multicast, reserved,
 * unspecified, and the IPv6 forms that embed an IPv4 address are all refused), unless
 * WEBHOOK_ALLOW_PRIVATE_TARGETS is set. Host names are resolved (every address) when an
 * endpoint is saved and again for each delivery, by the lookup the connection itself uses,
 * so a name that later resolves to a private address (DNS rebinding) is refused then too.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** The host of a URL as an address literal (IPv6 without brackets), or undefined for a name. */
export function addressLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) ? bare : undefined;
}

export class TargetRefusedError extends Error {
  constructor(readonly host: string, readonly address?: string) {
    super(address ? `${host} resolves to ${address}, a private, loopback or otherwise non-public address` : `${host} cannot be resolved`);
  }
}

/** Every address of a host name (rejects with TargetRefusedError when it has none). */
export function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    lookup(host, { all: true, verbatim: true }, (error, addresses) => {
      if (error || !addresses.length) reject(new TargetRefusedError(host));
      else resolve(addresses);
    });
  });
}

/** Refuses a host whose address (literal) or any resolved address is not public. */
export async function assertPublicHost(hostname: string): Promise<void> {
  const literal = addressLiteral(hostname);
  const addresses = literal ? [literal] : (await resolveAll(hostname)).map((a) => a.address);
  const bad = addresses.find((a) => !isPublicAddress(a));
  if (bad) throw new TargetRefusedError(hostname, bad);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request: resolves every address, refuses the host if any is not
 * public, and hands the connection exactly the addresses it checked (no second resolution
 * between the check and the connect).
 */
export function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  resolveAll(hostname).then(
    (addresses) => {
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      if (bad) return callback(Object.assign(new TargetRefusedError(hostname, bad.address), { code: 'ETARGETREFUSED' }), '');
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    },
    (error: NodeJS.ErrnoException) => callback(error, ''),
  );
}
