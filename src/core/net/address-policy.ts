// The outbound address policy (SSRF defence): every request this server makes on behalf of someone
// else (federation and push gateways now; URL previews later) connects only to addresses outside
// `ip_range_blacklist`, unless they are in `ip_range_whitelist`. A host name is resolved once, by the
// injected DnsResolver, inside the `lookup` of the connection itself: the address that was checked is
// the address connected to (no second resolution a DNS rebinding attack could change).
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { Config } from '../../config.js';
import type { DnsResolver, ResolvedAddress } from './dns.js';
import { IpRangeSet, parseIp } from './ip.js';

/** An outbound connection refused by the address policy. */
export class BlockedAddressError extends Error {
  readonly code = 'HEARTH_ADDRESS_BLOCKED';

  constructor(readonly host: string, readonly addresses: string[]) {
    super(addresses.length === 0
      ? `No address for ${host}`
      : `Refusing to connect to ${host}: ${addresses.join(', ')} ${addresses.length === 1 ? 'is' : 'are'} in ip_range_blacklist`);
    this.name = 'BlockedAddressError';
  }
}

// Always refused, whatever the configured list (Synapse adds them too): "this host" on any interface.
const UNSPECIFIED = ['0.0.0.0', '::'];

export class AddressPolicy {
  private readonly blacklist: IpRangeSet;
  private readonly whitelist: IpRangeSet;

  constructor(blacklist: readonly string[], whitelist: readonly string[] = []) {
    this.blacklist = new IpRangeSet([...blacklist, ...UNSPECIFIED]);
    this.whitelist = new IpRangeSet(whitelist);
  }

  static fromConfig(config: Pick<Config, 'ip_range_blacklist' | 'ip_range_whitelist'>): AddressPolicy {
    return new AddressPolicy(config.ip_range_blacklist, config.ip_range_whitelist);
  }

  /** Whether an outbound connection to this IP address is allowed (a non-IP string never is). */
  isAllowed(address: string): boolean {
    const ip = parseIp(address);
    if (!ip) return false;
    return !this.blacklist.contains(ip) || this.whitelist.contains(ip);
  }
}

/** Type of Node's `lookup` option (net.connect, http.Agent, https.request). */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/** The address policy together with the resolver it checks the answers of. */
export class OutboundGuard {
  constructor(readonly policy: AddressPolicy, readonly dns: DnsResolver) {}

  /**
   * The addresses of `host` (an IP literal or a name) that may be connected to, in the resolver's
   * order. Throws BlockedAddressError when there are none; DNS errors propagate.
   */
  async resolve(host: string): Promise<ResolvedAddress[]> {
    const literal = parseIp(host);
    const all: ResolvedAddress[] = literal ? [{ address: host, family: literal.version }] : await this.dns.lookupHost(host);
    const allowed = all.filter((a) => this.policy.isAllowed(a.address));
    if (allowed.length === 0) throw new BlockedAddressError(host, all.map((a) => a.address));
    return allowed;
  }

  /** Throws BlockedAddressError unless `host` is a host name or an allowed IP literal (net.connect skips `lookup` for IPs). */
  checkLiteral(host: string): void {
    if (parseIp(host) && !this.policy.isAllowed(host)) throw new BlockedAddressError(host, [host]);
  }

  /**
   * A `lookup` for Node's sockets: resolves with the injected resolver and hands over only allowed
   * addresses (all of them with `{all: true}`, as Node's happy-eyeballs connect asks; else the first).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname).then(
      (addresses) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable = family === undefined ? addresses : addresses.filter((a) => a.family === family);
        if (usable.length === 0) {
          callback(Object.assign(new Error(`No IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        if (options.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
