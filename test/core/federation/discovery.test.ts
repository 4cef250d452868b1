// Server discovery (matrix-spec: server-server-api "Resolving server names") against a fake DNS and
// a fake well-known, with a fake clock for the caching rules; and the real well-known fetcher
// against an HTTPS server on loopback (redirects, Cache-Control, bad answers).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../../../src/clock.js';
import {
  cacheControlMaxAge, HttpsWellKnownFetcher, orderSrv, parseServerName, ServerResolver, type WellKnownFetcher, type WellKnownResult,
} from '../../../src/core/federation/discovery.js';
import { AddressPolicy, OutboundGuard } from '../../../src/core/net/address-policy.js';
import type { DnsResolver, SrvRecord } from '../../../src/core/net/dns.js';
import { OutboundHttp } from '../../../src/core/net/http.js';
import { makeSelfSignedCertificate } from '../../helpers/tls.js';

const HOUR = 3600_000;

function fakeDns(srv: Record<string, SrvRecord[]> = {}, hosts: Record<string, string[]> = {}): DnsResolver & { srvAsked: string[] } {
  const srvAsked: string[] = [];
  return {
    srvAsked,
    async lookupHost(name) {
      const a = hosts[name];
      if (!a) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return a.map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const }));
    },
    async resolveSrv(name) {
      srvAsked.push(name);
      return srv[name] ?? [];
    },
  };
}

/** A well-known that answers from a table and counts requests. */
function fakeWellKnown(answers: Record<string, WellKnownResult>): WellKnownFetcher & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async fetch(hostname) {
      asked.push(hostname);
      return answers[hostname] ?? { kind: 'invalid' };
    },
  };
}

const srvRecord = (name: string, port: number, priority = 10, weight = 0): SrvRecord => ({ name, port, priority, weight });

describe('parseServerName', () => {
  it.each([
    ['example.org', { host: 'example.org', port: undefined, ip: false }],
    ['example.org:8448', { host: 'example.org', port: 8448, ip: false }],
    ['1.2.3.4', { host: '1.2.3.4', port: undefined, ip: true }],
    ['[2001:db8::1]:443', { host: '2001:db8::1', port: 443, ip: true }],
    ['[::1]', { host: '::1', port: undefined, ip: true }],
  ])('splits %s', (name, parts) => {
    expect(parseServerName(name)).toEqual(parts);
  });

  it.each(['', 'exa mple.org', 'example.org:0', 'example.org:70000', '[example.org]', 'example.org:'])('refuses %j', (name) => {
    expect(parseServerName(name)).toBeUndefined();
  });
});

describe('ServerResolver', () => {
  const clock = new FakeClock();

  it('1. uses an IP literal with its port or 8448, Host = server name, no SNI, without asking anyone', async () => {
    const dns = fakeDns();
    const wk = fakeWellKnown({});
    const r = new ServerResolver(dns, wk, clock);
    expect(await r.resolve('1.2.3.4')).toMatchObject({ targets: [{ host: '1.2.3.4', port: 8448 }], hostHeader: '1.2.3.4', tlsName: undefined, via: 'ip-literal' });
    expect(await r.resolve('[2001:db8::1]:8000')).toMatchObject({ targets: [{ host: '2001:db8::1', port: 8000 }], hostHeader: '[2001:db8::1]:8000', tlsName: undefined });
    expect(wk.asked).toEqual([]);
    expect(dns.srvAsked).toEqual([]);
  });

  it('2. uses a host name with an explicit port directly, Host = server name, certificate for the host name', async () => {
    const wk = fakeWellKnown({});
    const r = new ServerResolver(fakeDns(), wk, clock);
    expect(await r.resolve('localhost:8448')).toEqual({
      serverName: 'localhost:8448', targets: [{ host: 'localhost', port: 8448 }], hostHeader: 'localhost:8448', tlsName: 'localhost', via: 'explicit-port',
    });
    expect(wk.asked).toEqual([]);
  });

  it('3.1 follows a delegation to an IP literal: Host is that IP (with its port), no SNI', async () => {
    const r = new ServerResolver(fakeDns(), fakeWellKnown({ 'example.org': { kind: 'ok', server: '5.6.7.8:1234' } }), clock);
    expect(await r.resolve('example.org')).toMatchObject({ targets: [{ host: '5.6.7.8', port: 1234 }], hostHeader: '5.6.7.8:1234', tlsName: undefined, via: 'well-known', delegatedTo: '5.6.7.8:1234' });
    const r2 = new ServerResolver(fakeDns(), fakeWellKnown({ 'example.org': { kind: 'ok', server: '5.6.7.8' } }), clock);
    expect(await r2.resolve('example.org')).toMatchObject({ targets: [{ host: '5.6.7.8', port: 8448 }], hostHeader: '5.6.7.8' });
  });

  it('3.2 follows a delegation with a port: Host = delegated host:port, certificate for the delegated host', async () => {
    const dns = fakeDns();
    const r = new ServerResolver(dns, fakeWellKnown({ 'example.org': { kind: 'ok', server: 'matrix.example.net:443' } }), clock);
    expect(await r.resolve('example.org')).toMatchObject({ targets: [{ host: 'matrix.example.net', port: 443 }], hostHeader: 'matrix.example.net:443', tlsName: 'matrix.example.net' });
    expect(dns.srvAsked).toEqual([]);
  });

  it('3.3 looks up _matrix-fed._tcp of a delegated host without a port: Host and certificate are the delegated host', async () => {
    const dns = fakeDns({ '_matrix-fed._tcp.matrix.example.net': [srvRecord('fed1.example.net.', 8449)] });
    const r = new ServerResolver(dns, fakeWellKnown({ 'example.org': { kind: 'ok', server: 'matrix.example.net' } }), clock);
    expect(await r.resolve('example.org')).toMatchObject({ targets: [{ host: 'fed1.example.net', port: 8449 }], hostHeader: 'matrix.example.net', tlsName: 'matrix.example.net' });
  });

  it('3.4 falls back to the deprecated _matrix._tcp, and 3.5 to port 8448 of the delegated host', async () => {
    const legacy = fakeDns({ '_matrix._tcp.matrix.example.net': [srvRecord('old.example.net', 9000)] });
    const r = new ServerResolver(legacy, fakeWellKnown({ 'example.org': { kind: 'ok', server: 'matrix.example.net' } }), clock);
    expect(await r.resolve('example.org')).toMatchObject({ targets: [{ host: 'old.example.net', port: 9000 }], hostHeader: 'matrix.example.net' });
    expect(legacy.srvAsked).toEqual(['_matrix-fed._tcp.matrix.example.net', '_matrix._tcp.matrix.example.net']);
    const none = new ServerResolver(fakeDns(), fakeWellKnown({ 'example.org': { kind: 'ok', server: 'matrix.example.net' } }), clock);
    expect(await none.resolve('example.org')).toMatchObject({ targets: [{ host: 'matrix.example.net', port: 8448 }], hostHeader: 'matrix.example.net', tlsName: 'matrix.example.net' });
  });

  it('4-6. without a delegation: _matrix-fed._tcp, then _matrix._tcp, then port 8448; Host and certificate are the server name', async () => {
    const fed = new ServerResolver(fakeDns({ '_matrix-fed._tcp.example.org': [srvRecord('a.example.org', 1111)], '_matrix._tcp.example.org': [srvRecord('b.example.org', 2222)] }), fakeWellKnown({}), clock);
    expect(await fed.resolve('example.org')).toMatchObject({ targets: [{ host: 'a.example.org', port: 1111 }], hostHeader: 'example.org', tlsName: 'example.org', via: 'srv' });
    const legacy = new ServerResolver(fakeDns({ '_matrix._tcp.example.org': [srvRecord('b.example.org', 2222)] }), fakeWellKnown({}), clock);
    expect(await legacy.resolve('example.org')).toMatchObject({ targets: [{ host: 'b.example.org', port: 2222 }], via: 'legacy-srv' });
    const plain = new ServerResolver(fakeDns(), fakeWellKnown({ 'example.org': { kind: 'unreachable' } }), clock);
    expect(await plain.resolve('example.org')).toMatchObject({ targets: [{ host: 'example.org', port: 8448 }], hostHeader: 'example.org', tlsName: 'example.org', via: 'default-port' });
  });

  it('ignores a delegation that is not a server name', async () => {
    const r = new ServerResolver(fakeDns(), fakeWellKnown({ 'example.org': { kind: 'ok', server: 'not a server name' } }), clock);
    expect(await r.resolve('example.org')).toMatchObject({ via: 'default-port' });
  });

  it('orders SRV targets by priority, and refuses a "." target', async () => {
    const dns = fakeDns({ '_matrix-fed._tcp.example.org': [srvRecord('low.example.org', 2, 20), srvRecord('high.example.org', 1, 10)] });
    const r = new ServerResolver(dns, fakeWellKnown({}), clock);
    expect((await r.resolve('example.org')).targets).toEqual([{ host: 'high.example.org', port: 1 }, { host: 'low.example.org', port: 2 }]);
    const dot = new ServerResolver(fakeDns({ '_matrix-fed._tcp.example.org': [srvRecord('.', 0)] }), fakeWellKnown({}), clock);
    await expect(dot.resolve('example.org')).rejects.toThrow(/not available/);
  });

  it('caches a delegation for its max-age (24 hours without one, at least 5 minutes, at most 48 hours)', async () => {
    const c = new FakeClock();
    const wk = fakeWellKnown({ 'a.org': { kind: 'ok', server: 'm.a.org:443' }, 'b.org': { kind: 'ok', server: 'm.b.org:443', cacheMs: 60_000 }, 'c.org': { kind: 'ok', server: 'm.c.org:443', cacheMs: 100 * HOUR } });
    const r = new ServerResolver(fakeDns(), wk, c);
    for (const s of ['a.org', 'b.org', 'c.org']) await r.resolve(s);
    c.advance(5 * 60_000 - 1);
    for (const s of ['a.org', 'b.org', 'c.org']) await r.resolve(s);
    expect(wk.asked).toEqual(['a.org', 'b.org', 'c.org']);
    c.advance(1);
    for (const s of ['a.org', 'b.org', 'c.org']) await r.resolve(s);
    expect(wk.asked).toEqual(['a.org', 'b.org', 'c.org', 'b.org']);
    c.advance(24 * HOUR);
    for (const s of ['a.org', 'c.org']) await r.resolve(s);
    expect(wk.asked.slice(4)).toEqual(['a.org']);
    c.advance(24 * HOUR);
    await r.resolve('c.org');
    expect(wk.asked.slice(5)).toEqual(['c.org']);
  });

  it('caches an answer without delegation for an hour, and backs off exponentially from an unreachable well-known', async () => {
    const c = new FakeClock();
    const wk = fakeWellKnown({ 'bad.org': { kind: 'invalid' }, 'down.org': { kind: 'unreachable' } });
    const r = new ServerResolver(fakeDns(), wk, c);
    await r.resolve('bad.org');
    await r.resolve('down.org');
    c.advance(2 * 60_000);
    await r.resolve('bad.org');
    await r.resolve('down.org');
    expect(wk.asked).toEqual(['bad.org', 'down.org', 'down.org']);
    c.advance(2 * 60_000); // the second failure waits 4 minutes
    await r.resolve('down.org');
    expect(wk.asked.length).toBe(3);
    c.advance(2 * 60_000);
    await r.resolve('down.org');
    expect(wk.asked.length).toBe(4);
    c.advance(HOUR - 6 * 60_000);
    await r.resolve('bad.org');
    expect(wk.asked.slice(4)).toEqual(['bad.org']);
  });

  it('asks the well-known once for concurrent resolutions', async () => {
    const wk = fakeWellKnown({ 'example.org': { kind: 'ok', server: 'm.example.org:443' } });
    const r = new ServerResolver(fakeDns(), wk, new FakeClock());
    await Promise.all([r.resolve('example.org'), r.resolve('example.org'), r.resolve('example.org')]);
    expect(wk.asked).toEqual(['example.org']);
  });
});

describe('orderSrv', () => {
  it('puts lower priorities first and picks by weight within a priority', () => {
    const records = [srvRecord('c', 3, 2, 0), srvRecord('a', 1, 1, 90), srvRecord('b', 2, 1, 10)];
    expect(orderSrv(records, () => 0.5).map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(orderSrv(records, () => 0.01).map((r) => r.name)).toEqual(['b', 'a', 'c']);
  });
});

describe('cacheControlMaxAge', () => {
  it('reads max-age, treats no-store and no-cache as 0, ignores the rest', () => {
    expect(cacheControlMaxAge('public, max-age=3600')).toBe(3600_000);
    expect(cacheControlMaxAge('no-store')).toBe(0);
    expect(cacheControlMaxAge('private')).toBeUndefined();
    expect(cacheControlMaxAge(undefined)).toBeUndefined();
  });
});

describe('HttpsWellKnownFetcher', () => {
  const cert = makeSelfSignedCertificate('wk.test');
  let server: Server;
  let port = 0;
  const seen: string[] = [];
  const routes: Record<string, (res: import('node:http').ServerResponse) => void> = {
    '/.well-known/matrix/server': (res) => { res.setHeader('Cache-Control', 'max-age=600'); res.end(JSON.stringify({ 'm.server': 'delegated.test:443' })); },
  };
  let fetcher: HttpsWellKnownFetcher;
  let http: OutboundHttp;

  beforeAll(async () => {
    server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      seen.push(`${req.headers.host} ${req.url}`);
      const route = routes[req.url ?? ''];
      if (route) route(res);
      else { res.statusCode = 404; res.end('{}'); }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    const guard = new OutboundGuard(new AddressPolicy(['127.0.0.0/8'], ['127.0.0.1']), fakeDns({}, { 'wk.test': ['127.0.0.1'], 'internal.test': ['10.0.0.1'] }));
    http = new OutboundHttp(guard);
    fetcher = new HttpsWellKnownFetcher(http, { verifyCertificates: false, port });
  });
  afterAll(async () => {
    http.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    cert.remove();
  });

  it('reads m.server and max-age, sending the host name as Host', async () => {
    seen.length = 0;
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'ok', server: 'delegated.test:443', cacheMs: 600_000 });
    expect(seen).toEqual([`wk.test:${port} /.well-known/matrix/server`]);
  });

  it('follows redirects, but not loops', async () => {
    routes['/.well-known/matrix/server'] = (res) => { res.statusCode = 302; res.setHeader('Location', '/moved'); res.end(); };
    routes['/moved'] = (res) => res.end('{"m.server":"moved.test"}');
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'ok', server: 'moved.test' });
    routes['/moved'] = (res) => { res.statusCode = 301; res.setHeader('Location', `https://wk.test:${port}/.well-known/matrix/server`); res.end(); };
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'invalid' });
  });

  it('calls a 404, a non-JSON body and a missing m.server invalid', async () => {
    routes['/.well-known/matrix/server'] = (res) => { res.statusCode = 404; res.end(); };
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'invalid' });
    routes['/.well-known/matrix/server'] = (res) => res.end('<html>');
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'invalid' });
    routes['/.well-known/matrix/server'] = (res) => res.end('{"m.server": 1}');
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'invalid' });
  });

  it('calls a host it must not connect to (blacklisted address) or cannot reach unreachable', async () => {
    expect(await fetcher.fetch('internal.test')).toEqual({ kind: 'unreachable' });
    expect(await fetcher.fetch('missing.test')).toEqual({ kind: 'unreachable' });
  });

  it('fails verification of a self-signed certificate unless verification is off', async () => {
    routes['/.well-known/matrix/server'] = (res) => res.end('{"m.server":"x.test"}');
    const strict = new HttpsWellKnownFetcher(http, { verifyCertificates: true, port });
    expect(await strict.fetch('wk.test')).toEqual({ kind: 'unreachable' });
    expect(await fetcher.fetch('wk.test')).toEqual({ kind: 'ok', server: 'x.test' });
  });
});
