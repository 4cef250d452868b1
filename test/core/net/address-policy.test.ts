// The outbound address policy (SSRF defence): CIDR matching for IPv4 and IPv6, IPv4 ranges matched
// through IPv6 spellings, whitelist exceptions, and a `lookup` that resolves once and hands sockets
// only the checked addresses.
import type { LookupAddress } from 'node:dns';
import { DEFAULT_IP_RANGE_BLACKLIST } from '../../../src/config.js';
import { AddressPolicy, BlockedAddressError, OutboundGuard } from '../../../src/core/net/address-policy.js';
import type { DnsResolver, ResolvedAddress } from '../../../src/core/net/dns.js';
import { IpRangeSet, embeddedIpv4, formatIp, parseCidr, parseIp } from '../../../src/core/net/ip.js';

/** A resolver answering from a table, counting the questions it is asked. */
function fakeDns(table: Record<string, string[]>): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async lookupHost(name) {
      asked.push(name);
      const answers = table[name];
      if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return answers.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    async resolveSrv() {
      return [];
    },
  };
}

describe('parseIp / parseCidr', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['::', '0:0:0:0:0:0:0:0'],
    ['2001:DB8::8:800:200C:417A', '2001:db8:0:0:8:800:200c:417a'],
    ['::ffff:10.1.2.3', '0:0:0:0:0:ffff:a01:203'],
    ['fe80::1%eth0', 'fe80:0:0:0:0:0:0:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('parses %s', (text, formatted) => {
    expect(formatIp(parseIp(text)!)).toBe(formatted);
  });

  it.each(['256.0.0.1', '0177.0.0.1', '1.2.3', '1.2.3.4.5', 'example.org', '1::2::3', '1:2:3:4:5:6:7:8:9', ':::', '12345::', '', '1:2:3:4:5:6:7::8'])(
    'refuses %j',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );

  it('reads CIDR ranges and single addresses, clearing host bits', () => {
    expect(parseCidr('10.0.0.0/8')).toMatchObject({ version: 4, prefix: 8 });
    expect(parseCidr('::1')).toMatchObject({ version: 6, prefix: 128 });
    expect(formatIp(parseCidr('127.0.0.1/8')!)).toBe('127.0.0.0');
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('fc00::/129')).toBeUndefined();
    expect(parseCidr('10.0.0.0/x')).toBeUndefined();
    expect(parseCidr('not-an-ip/8')).toBeUndefined();
  });

  it('finds the IPv4 address embedded in mapped, compatible and 6to4 IPv6 addresses', () => {
    const v4 = (s: string) => {
      const e = embeddedIpv4(parseIp(s)!);
      return e ? Array.from(e).join('.') : undefined;
    };
    expect(v4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(v4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(v4('::10.0.0.1')).toBe('10.0.0.1');
    expect(v4('2002:c0a8:0101::1')).toBe('192.168.1.1');
    expect(v4('2001:db8::1')).toBeUndefined();
    expect(v4('::')).toBeUndefined();
  });
});

describe('IpRangeSet', () => {
  const set = new IpRangeSet(['10.0.0.0/8', '172.16.0.0/12', 'fc00::/7', '192.168.1.7']);

  it('matches IPv4 and IPv6 addresses by prefix', () => {
    expect(set.contains('10.255.1.2')).toBe(true);
    expect(set.contains('11.0.0.1')).toBe(false);
    expect(set.contains('172.31.255.255')).toBe(true);
    expect(set.contains('172.32.0.0')).toBe(false);
    expect(set.contains('fd12:3456::1')).toBe(true);
    expect(set.contains('fe00::1')).toBe(false);
    expect(set.contains('192.168.1.7')).toBe(true);
    expect(set.contains('192.168.1.8')).toBe(false);
  });

  it('matches IPv4 ranges through IPv4-mapped, IPv4-compatible and 6to4 IPv6 addresses', () => {
    expect(set.contains('::ffff:10.0.0.1')).toBe(true);
    expect(set.contains('::ffff:a00:1')).toBe(true);
    expect(set.contains('::10.0.0.1')).toBe(true);
    expect(set.contains('2002:0a00:0001::')).toBe(true);
    expect(set.contains('::ffff:8.8.8.8')).toBe(false);
  });

  it('never matches something that is not an address', () => {
    expect(set.contains('example.org')).toBe(false);
  });
});

describe('AddressPolicy with the default blacklist', () => {
  const policy = new AddressPolicy(DEFAULT_IP_RANGE_BLACKLIST);

  it.each(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.0.10', '100.64.0.1', '169.254.169.254', '224.0.0.1', '198.18.0.1',
    '::1', 'fe80::1', 'fd00::1', 'fec0::1', 'ff02::1', '2001:db8::1', '0.0.0.0', '::', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '2002:7f00:1::'])(
    'refuses %s',
    (address) => {
      expect(policy.isAllowed(address)).toBe(false);
    },
  );

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(policy.isAllowed(address)).toBe(true);
  });

  it('lets ip_range_whitelist make exceptions, in any spelling of the address', () => {
    const p = new AddressPolicy(DEFAULT_IP_RANGE_BLACKLIST, ['127.0.0.1', '::1']);
    expect(p.isAllowed('127.0.0.1')).toBe(true);
    expect(p.isAllowed('::ffff:127.0.0.1')).toBe(true);
    expect(p.isAllowed('::1')).toBe(true);
    expect(p.isAllowed('127.0.0.2')).toBe(false);
    expect(p.isAllowed('10.0.0.1')).toBe(false);
  });

  it('always refuses the unspecified addresses, even with an empty blacklist', () => {
    const p = new AddressPolicy([]);
    expect(p.isAllowed('0.0.0.0')).toBe(false);
    expect(p.isAllowed('::')).toBe(false);
    expect(p.isAllowed('10.0.0.1')).toBe(true);
  });
});

describe('OutboundGuard', () => {
  const policy = new AddressPolicy(DEFAULT_IP_RANGE_BLACKLIST, ['127.0.0.1']);

  it('resolves a name and keeps only the allowed addresses, in order', async () => {
    const guard = new OutboundGuard(policy, fakeDns({ 'mixed.test': ['10.0.0.1', '93.184.216.34', '::1', '2606:2800::1'] }));
    expect(await guard.resolve('mixed.test')).toEqual([{ address: '93.184.216.34', family: 4 }, { address: '2606:2800::1', family: 6 }]);
  });

  it('refuses a name whose every address is blocked', async () => {
    const guard = new OutboundGuard(policy, fakeDns({ 'internal.test': ['10.0.0.1', '192.168.1.1'] }));
    const err = await guard.resolve('internal.test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockedAddressError);
    expect((err as BlockedAddressError).addresses).toEqual(['10.0.0.1', '192.168.1.1']);
  });

  it('checks IP literals without asking DNS', async () => {
    const dns = fakeDns({});
    const guard = new OutboundGuard(policy, dns);
    await expect(guard.resolve('169.254.169.254')).rejects.toBeInstanceOf(BlockedAddressError);
    expect(await guard.resolve('127.0.0.1')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(() => guard.checkLiteral('10.0.0.1')).toThrow(BlockedAddressError);
    expect(() => guard.checkLiteral('example.org')).not.toThrow();
    expect(dns.asked).toEqual([]);
  });

  it('gives sockets, through lookup, exactly the addresses it checked (one resolution)', async () => {
    const dns = fakeDns({ 'a.test': ['10.0.0.1', '93.184.216.34', '2606:2800::1'] });
    const guard = new OutboundGuard(policy, dns);
    const all = await new Promise<LookupAddress[]>((resolve, reject) => {
      guard.lookup('a.test', { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses as LookupAddress[])));
    });
    expect(all).toEqual([{ address: '93.184.216.34', family: 4 }, { address: '2606:2800::1', family: 6 }]);
    const one = await new Promise<[string, number | undefined]>((resolve, reject) => {
      guard.lookup('a.test', { family: 6 }, (err, address, family) => (err ? reject(err) : resolve([address as string, family])));
    });
    expect(one).toEqual(['2606:2800::1', 6]);
    expect(dns.asked).toEqual(['a.test', 'a.test']);
  });

  it('fails the lookup with the BlockedAddressError, and passes DNS errors through', async () => {
    const guard = new OutboundGuard(policy, fakeDns({ 'evil.test': ['169.254.169.254'] }));
    const blocked = await new Promise((resolve) => guard.lookup('evil.test', {}, (err) => resolve(err)));
    expect(blocked).toBeInstanceOf(BlockedAddressError);
    const missing = await new Promise((resolve) => guard.lookup('missing.test', {}, (err) => resolve(err)));
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
  });
});
