// IP addresses and CIDR ranges for the outbound address policy (address-policy.ts): parsing of IPv4
// and IPv6 text forms, and range sets that also match the IPv6 forms that embed an IPv4 address
// (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, 6to4 2002:AABB:CCDD::), as Synapse's
// generate_ip_set does: a blocked IPv4 range cannot be reached through its IPv6 spelling.

export interface ParsedIp {
  version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface Cidr extends ParsedIp {
  /** Prefix length in bits (32 or 128 for a single address). */
  prefix: number;
}

// Strict dotted decimal: no leading zeros (getaddrinfo would read 0177.0.0.1 as octal), 0-255.
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

function parseIpv4(text: string): Uint8Array | undefined {
  if (!IPV4_RE.test(text)) return undefined;
  return Uint8Array.from(text.split('.').map(Number));
}

function parseIpv6(input: string): Uint8Array | undefined {
  // A zone index (fe80::1%eth0) names an interface, not part of the address.
  const text = input.includes('%') ? input.slice(0, input.indexOf('%')) : input;
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || text.length > 45) return undefined;
  let tail: Uint8Array | undefined;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    // Dotted IPv4 in the last 32 bits (::ffff:1.2.3.4).
    tail = parseIpv4(text.slice(lastColon + 1));
    if (!tail) return undefined;
    body = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === '') return [];
    const parts = s.split(':');
    const out: number[] = [];
    for (const p of parts) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !rest) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail) bytes.set(tail, 12);
  return bytes;
}

/** An IPv4 or IPv6 address in text form (IPv6 without brackets, zone index ignored), or undefined. */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIpv4(text);
  if (v4) return { version: 4, bytes: v4 };
  const v6 = text.includes(':') ? parseIpv6(text) : undefined;
  return v6 ? { version: 6, bytes: v6 } : undefined;
}

/** Whether `text` is an IP literal (what server discovery step 1 asks). */
export function isIpLiteral(text: string): boolean {
  return parseIp(text) !== undefined;
}

/**
 * `a.b.c.d/n`, `x:y::/n`, or a single address (a /32 or /128). Host bits are cleared, as Synapse's
 * netaddr does (`127.0.0.1/8` is `127.0.0.0/8`).
 */
export function parseCidr(text: string): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
    prefix = Number(p);
  }
  const bytes = Uint8Array.from(ip.bytes);
  for (let bit = prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3] = bytes[bit >> 3]! & ~(1 << (7 - (bit & 7)));
  return { version: ip.version, bytes, prefix };
}

/** Whether the first `prefix` bits of `a` and `b` agree. */
function prefixMatches(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rem = prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (a[full]! & mask) === (b[full]! & mask);
}

/**
 * The IPv4 address an IPv6 address stands for, if it embeds one: IPv4-mapped (::ffff:0:0/96),
 * IPv4-compatible (::/96, deprecated but routable on some stacks), 6to4 (2002::/16, bits 16-47).
 */
export function embeddedIpv4(ip: ParsedIp): Uint8Array | undefined {
  if (ip.version !== 6) return undefined;
  const b = ip.bytes;
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12, 16);
  if (zeros(0, 12) && !zeros(12, 16)) return b.slice(12, 16);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6);
  return undefined;
}

export function formatIp(ip: ParsedIp): string {
  if (ip.version === 4) return Array.from(ip.bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i]! << 8) | ip.bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** A set of CIDR ranges; an IPv6 address that embeds an IPv4 one is also matched by IPv4 ranges. */
export class IpRangeSet {
  private readonly ranges: Cidr[];

  /** Throws on an entry that is not an address or CIDR range (config validation reports them first). */
  constructor(entries: readonly string[]) {
    this.ranges = entries.map((e) => {
      const c = parseCidr(e);
      if (!c) throw new Error(`Not an IP address or CIDR range: ${e}`);
      return c;
    });
  }

  get size(): number {
    return this.ranges.length;
  }

  contains(address: string | ParsedIp): boolean {
    const ip = typeof address === 'string' ? parseIp(address) : address;
    if (!ip) return false;
    if (this.matches(ip)) return true;
    const v4 = embeddedIpv4(ip);
    return v4 !== undefined && this.matches({ version: 4, bytes: v4 });
  }

  private matches(ip: ParsedIp): boolean {
    for (const r of this.ranges) {
      if (r.version === ip.version && prefixMatches(ip.bytes, r.bytes, r.prefix)) return true;
    }
    return false;
  }
}
