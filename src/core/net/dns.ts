// DNS behind an interface, so that server discovery and the address policy run against a fake
// resolver in tests. The system resolver uses getaddrinfo for A/AAAA (like every other program on
// the machine: /etc/hosts, CNAMEs followed) and the configured DNS servers for SRV.
import { promises as dns } from 'node:dns';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DnsResolver {
  /** A and AAAA records of a host name (CNAMEs followed). Throws (ENOTFOUND) when it has none. */
  lookupHost(hostname: string): Promise<ResolvedAddress[]>;
  /** SRV records of a name such as `_matrix-fed._tcp.example.org`; [] when it has none. */
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

/** Answers that mean "no such record" rather than "DNS is failing". */
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

export function systemDnsResolver(): DnsResolver {
  const resolver = new dns.Resolver();
  return {
    async lookupHost(hostname) {
      const answers = await dns.lookup(hostname, { all: true, verbatim: true });
      return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
    },
    async resolveSrv(name) {
      try {
        return await resolver.resolveSrv(name);
      } catch (e) {
        if (NO_RECORD.has((e as NodeJS.ErrnoException).code ?? '')) return [];
        throw e;
      }
    },
  };
}
