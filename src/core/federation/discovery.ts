// Server discovery (matrix-spec: server-server-api "Resolving server names"): from a server name to
// the hosts and ports to connect to, the Host header to send and the name the TLS certificate must
// be valid for (also the SNI). The address policy is applied where connections are made (every host
// name the targets hold is resolved by the OutboundGuard's lookup, every IP literal checked).
import type { Clock } from '../../clock.js';
import { isValidServerName } from '../ids.js';
import type { DnsResolver, SrvRecord } from '../net/dns.js';
import { OutboundError, type OutboundHttp } from '../net/http.js';
import { isIpLiteral } from '../net/ip.js';

/** The federation port when neither the server name, the delegation nor SRV gives one. */
export const DEFAULT_FEDERATION_PORT = 8448;

export interface ServerTarget {
  /** Host name (resolved through the address policy at connection time) or IP literal, without brackets. */
  host: string;
  port: number;
}

export interface ResolvedServer {
  serverName: string;
  /** Connect to these in order, until one accepts the connection. */
  targets: ServerTarget[];
  /** The `Host` header of every request. */
  hostHeader: string;
  /** The name the certificate must be valid for, sent as SNI; undefined: an IP address (no SNI). */
  tlsName: string | undefined;
  /** How the targets were found (logs, tests). */
  via: 'ip-literal' | 'explicit-port' | 'well-known' | 'srv' | 'legacy-srv' | 'default-port';
  /** The server the well-known delegated to, if any. */
  delegatedTo?: string;
}

export class DiscoveryError extends Error {
  constructor(readonly serverName: string, message: string) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

/** A server name split into host and optional port (appendices "Server Name"); IPv6 without brackets. */
export function parseServerName(name: string): { host: string; port: number | undefined; ip: boolean } | undefined {
  if (!isValidServerName(name)) return undefined;
  let host: string;
  let rest: string;
  if (name.startsWith('[')) {
    const close = name.indexOf(']');
    host = name.slice(1, close);
    rest = name.slice(close + 1);
    if (!isIpLiteral(host) || !host.includes(':')) return undefined;
  } else {
    const colon = name.indexOf(':');
    host = colon < 0 ? name : name.slice(0, colon);
    rest = colon < 0 ? '' : name.slice(colon);
  }
  let port: number | undefined;
  if (rest !== '') {
    port = Number(rest.slice(1));
    if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  }
  return { host, port, ip: isIpLiteral(host) };
}

/** What fetching `https://<hostname>/.well-known/matrix/server` gave. */
export type WellKnownResult =
  /** A 200 with a JSON object and a string `m.server`; `cacheMs` from Cache-Control when it had one. */
  | { kind: 'ok'; server: string; cacheMs?: number }
  /** An answer, but no usable delegation (non-200, not JSON, no `m.server`). */
  | { kind: 'invalid'; cacheMs?: number }
  /** No answer (connection refused, timeout, TLS failure, blocked address). */
  | { kind: 'unreachable' };

export interface WellKnownFetcher {
  fetch(hostname: string): Promise<WellKnownResult>;
}

export interface DiscoveryOptions {
  /** Delegations are cached this long by default (the spec's recommendation), at most `wellKnownMaxCacheMs`. */
  wellKnownDefaultCacheMs?: number;
  wellKnownMinCacheMs?: number;
  wellKnownMaxCacheMs?: number;
  /** A well-known answer without a delegation is cached this long (the spec: "up to an hour"). */
  wellKnownInvalidCacheMs?: number;
  /** After a failure to reach the well-known, it is not asked again for this long, doubling per failure up to the invalid cache time. */
  wellKnownRetryMs?: number;
  /** SRV answers (Node's resolver gives no TTL) are reused this long. */
  srvCacheMs?: number;
}

const HOUR = 60 * 60 * 1000;
const DEFAULTS: Required<DiscoveryOptions> = {
  wellKnownDefaultCacheMs: 24 * HOUR,
  wellKnownMinCacheMs: 5 * 60 * 1000,
  wellKnownMaxCacheMs: 48 * HOUR,
  wellKnownInvalidCacheMs: HOUR,
  wellKnownRetryMs: 2 * 60 * 1000,
  srvCacheMs: 10 * 60 * 1000,
};

interface WellKnownEntry {
  /** The delegated server name, or null: no delegation. */
  server: string | null;
  expiresTs: number;
  /** Consecutive failures to reach it (the backoff). */
  failures: number;
}

export class ServerResolver {
  private readonly opts: Required<DiscoveryOptions>;
  private readonly wellKnownCache = new Map<string, WellKnownEntry>();
  private readonly wellKnownInFlight = new Map<string, Promise<string | null>>();
  private readonly srvCache = new Map<string, { records: SrvRecord[]; expiresTs: number }>();

  constructor(
    private readonly dns: DnsResolver,
    private readonly wellKnown: WellKnownFetcher,
    private readonly clock: Clock,
    opts: DiscoveryOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  async resolve(serverName: string): Promise<ResolvedServer> {
    const parsed = parseServerName(serverName);
    if (!parsed) throw new DiscoveryError(serverName, `Not a valid server name: ${JSON.stringify(serverName)}`);
    const { host, port } = parsed;
    // 1. An IP literal: that address, the given port or 8448; Host is the server name; no SNI.
    if (parsed.ip) return { serverName, targets: [{ host, port: port ?? DEFAULT_FEDERATION_PORT }], hostHeader: serverName, tlsName: undefined, via: 'ip-literal' };
    // 2. A host name with an explicit port: its A/AAAA records and that port; Host is the server name.
    if (port !== undefined) return { serverName, targets: [{ host, port }], hostHeader: serverName, tlsName: host, via: 'explicit-port' };
    // 3. The well-known delegation.
    const delegated = await this.delegationOf(host);
    if (delegated !== null) {
      const d = parseServerName(delegated)!;
      const base = { serverName, delegatedTo: delegated, via: 'well-known' as const };
      // 3.1 An IP literal: Host is the delegated IP (with the port if one was given).
      if (d.ip) return { ...base, targets: [{ host: d.host, port: d.port ?? DEFAULT_FEDERATION_PORT }], hostHeader: delegated, tlsName: undefined };
      // 3.2 A host name with a port: Host is `<delegated_hostname>:<delegated_port>`.
      if (d.port !== undefined) return { ...base, targets: [{ host: d.host, port: d.port }], hostHeader: delegated, tlsName: d.host };
      // 3.3, 3.4 SRV of the delegated host name; 3.5 its A/AAAA records and 8448. Host is the delegated host name.
      const srv = await this.srvTargets(d.host);
      const targets = srv?.targets ?? [{ host: d.host, port: DEFAULT_FEDERATION_PORT }];
      return { ...base, targets, hostHeader: d.host, tlsName: d.host };
    }
    // 4, 5. SRV of the host name (_matrix-fed, then the deprecated _matrix); 6. A/AAAA and 8448.
    const srv = await this.srvTargets(host);
    if (srv) return { serverName, targets: srv.targets, hostHeader: host, tlsName: host, via: srv.legacy ? 'legacy-srv' : 'srv' };
    return { serverName, targets: [{ host, port: DEFAULT_FEDERATION_PORT }], hostHeader: host, tlsName: host, via: 'default-port' };
  }

  /** Forgets cached discovery of a server (e.g. after its well-known changed). */
  forget(serverName: string): void {
    const parsed = parseServerName(serverName);
    if (!parsed) return;
    this.wellKnownCache.delete(parsed.host);
    this.srvCache.delete(`_matrix-fed._tcp.${parsed.host}`);
    this.srvCache.delete(`_matrix._tcp.${parsed.host}`);
  }

  /**
   * The `m.server` of the host name's well-known, or null. Answers are cached: a delegation for its
   * Cache-Control max-age (24 hours without one, between 5 minutes and 48 hours), an answer without
   * a delegation for an hour, a failure to reach it for 2 minutes doubling per failure (up to an hour).
   */
  private async delegationOf(hostname: string): Promise<string | null> {
    const now = this.clock.now();
    const cached = this.wellKnownCache.get(hostname);
    if (cached && cached.expiresTs > now) return cached.server;
    const inFlight = this.wellKnownInFlight.get(hostname);
    if (inFlight) return inFlight;
    const p = this.fetchDelegation(hostname, cached?.failures ?? 0).finally(() => this.wellKnownInFlight.delete(hostname));
    this.wellKnownInFlight.set(hostname, p);
    return p;
  }

  private async fetchDelegation(hostname: string, failures: number): Promise<string | null> {
    let result: WellKnownResult;
    try {
      result = await this.wellKnown.fetch(hostname);
    } catch {
      result = { kind: 'unreachable' };
    }
    const now = this.clock.now();
    const o = this.opts;
    const clamp = (ms: number, min: number, max: number) => Math.min(max, Math.max(min, ms));
    let entry: WellKnownEntry;
    if (result.kind === 'ok' && parseServerName(result.server)) {
      const ms = clamp(result.cacheMs ?? o.wellKnownDefaultCacheMs, o.wellKnownMinCacheMs, o.wellKnownMaxCacheMs);
      entry = { server: result.server, expiresTs: now + ms, failures: 0 };
    } else if (result.kind === 'unreachable') {
      const ms = Math.min(o.wellKnownInvalidCacheMs, o.wellKnownRetryMs * 2 ** Math.min(failures, 20));
      entry = { server: null, expiresTs: now + ms, failures: failures + 1 };
    } else {
      // Invalid (including an `m.server` that is not a server name): step 4 onwards.
      const ms = clamp(result.cacheMs ?? o.wellKnownInvalidCacheMs, o.wellKnownMinCacheMs, o.wellKnownInvalidCacheMs);
      entry = { server: null, expiresTs: now + ms, failures: 0 };
    }
    this.wellKnownCache.set(hostname, entry);
    return entry.server;
  }

  /** SRV targets of `_matrix-fed._tcp.<host>`, else of `_matrix._tcp.<host>` (deprecated); undefined when neither exists. */
  private async srvTargets(host: string): Promise<{ targets: ServerTarget[]; legacy: boolean } | undefined> {
    for (const [service, legacy] of [['_matrix-fed._tcp', false], ['_matrix._tcp', true]] as const) {
      const name = `${service}.${host}`;
      const records = await this.srv(name);
      if (records.length === 0) continue;
      // RFC 2782: a single record with target "." says the service is decidedly not available here.
      if (records.length === 1 && (records[0]!.name === '.' || records[0]!.name === '')) {
        throw new DiscoveryError(host, `${name} says the service is not available`);
      }
      return { targets: orderSrv(records).map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port })), legacy };
    }
    return undefined;
  }

  private async srv(name: string): Promise<SrvRecord[]> {
    const now = this.clock.now();
    const cached = this.srvCache.get(name);
    if (cached && cached.expiresTs > now) return cached.records;
    const records = await this.dns.resolveSrv(name);
    this.srvCache.set(name, { records, expiresTs: now + this.opts.srvCacheMs });
    return records;
  }
}

/**
 * RFC 2782 order: lowest priority first; within a priority, a weighted random order (records of
 * weight 0 have a small chance to come first).
 */
export function orderSrv(records: SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const left = [...byPriority.get(priority)!].sort((a, b) => a.weight - b.weight);
    while (left.length > 0) {
      // Weight-0 records first; a random number in [0, total]; the first record whose running sum reaches it.
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      const pick = Math.min(total, Math.floor(random() * (total + 1)));
      let running = 0;
      let index = left.findIndex((r) => (running += r.weight) >= pick);
      if (index < 0) index = left.length - 1;
      out.push(left.splice(index, 1)[0]!);
    }
  }
  return out;
}

export interface HttpsWellKnownOptions {
  verifyCertificates: boolean;
  /** The port of `https://<hostname>/` (443; tests serve it elsewhere). */
  port?: number;
  timeoutMs?: number;
  maxRedirects?: number;
}

/** Well-known answers are small; anything larger is not one. */
const WELL_KNOWN_MAX_BYTES = 64 * 1024;

/**
 * Fetches `https://<hostname>/.well-known/matrix/server` (matrix-spec: server-server/wellknown.yaml#getWellKnown)
 * through the guarded HTTP client, following up to 5 redirects to https URLs and never one it has
 * already visited; the body is read as JSON whatever its Content-Type.
 */
export class HttpsWellKnownFetcher implements WellKnownFetcher {
  constructor(private readonly http: OutboundHttp, private readonly opts: HttpsWellKnownOptions) {}

  async fetch(hostname: string): Promise<WellKnownResult> {
    const port = this.opts.port ?? 443;
    let url = new URL(`https://${hostname}${port === 443 ? '' : `:${port}`}/.well-known/matrix/server`);
    const visited = new Set<string>();
    for (let hop = 0; ; hop++) {
      visited.add(url.href);
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      let res;
      try {
        res = await this.http.request({
          protocol: 'https', host, port: url.port === '' ? 443 : Number(url.port), method: 'GET', path: `${url.pathname}${url.search}`,
          headers: { Host: url.host, Accept: 'application/json' }, verifyCertificates: this.opts.verifyCertificates,
          timeoutMs: this.opts.timeoutMs ?? 10_000, maxResponseBytes: WELL_KNOWN_MAX_BYTES,
        });
      } catch (e) {
        if (e instanceof OutboundError && e.kind === 'too_large') return { kind: 'invalid' };
        return { kind: 'unreachable' };
      }
      const cacheMs = cacheControlMaxAge(res.headers['cache-control']);
      const withCache = cacheMs === undefined ? {} : { cacheMs };
      if (res.status >= 300 && res.status < 400 && typeof res.headers.location === 'string') {
        let next: URL;
        try {
          next = new URL(res.headers.location, url);
        } catch {
          return { kind: 'invalid', ...withCache };
        }
        if (next.protocol !== 'https:' || visited.has(next.href) || hop >= (this.opts.maxRedirects ?? 5)) return { kind: 'invalid', ...withCache };
        url = next;
        continue;
      }
      if (res.status !== 200) return { kind: 'invalid', ...withCache };
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        return { kind: 'invalid', ...withCache };
      }
      const server = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)['m.server'] : undefined;
      if (typeof server !== 'string') return { kind: 'invalid', ...withCache };
      return { kind: 'ok', server, ...withCache };
    }
  }
}

/** The max-age of a Cache-Control header in ms (`no-store`/`no-cache`: 0), or undefined. */
export function cacheControlMaxAge(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return undefined;
  const directives = value.toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return 0;
  for (const d of directives) {
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(d);
    if (m) return Number(m[1]) * 1000;
  }
  return undefined;
}
