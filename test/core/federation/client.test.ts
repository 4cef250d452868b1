// The outbound federation client against an HTTPS server on loopback: what it sends (Host, SNI,
// X-Matrix over the exact request target, JSON body), how errors come back (status and errcode),
// and what it refuses before connecting (disabled, whitelist, itself, blacklisted addresses).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FakeClock } from '../../../src/clock.js';
import { buildConfig, type Config } from '../../../src/config.js';
import { SigningKey, verifyJsonSignature } from '../../../src/core/crypto/signing.js';
import { FederationError, HttpFederationClient, encodeQuery } from '../../../src/core/federation/client.js';
import { ServerResolver } from '../../../src/core/federation/discovery.js';
import { parseXMatrix, requestJson } from '../../../src/core/federation/x-matrix.js';
import { AddressPolicy, OutboundGuard } from '../../../src/core/net/address-policy.js';
import { OutboundHttp } from '../../../src/core/net/http.js';
import { createLogger } from '../../../src/logger.js';
import { fakeDns } from '../../helpers/federation.js';
import { makeSelfSignedCertificate } from '../../helpers/tls.js';

interface Seen {
  method: string;
  url: string;
  host: string | undefined;
  sni: string | false | null;
  authorization: string | undefined;
  body: string;
}

describe('HttpFederationClient', () => {
  const cert = makeSelfSignedCertificate('remote.test');
  const key = SigningKey.generate();
  let server: Server;
  let port = 0;
  const seen: Seen[] = [];
  let reply: (res: import('node:http').ServerResponse) => void = (res) => res.end('{"ok":true}');
  const http = new OutboundHttp(new OutboundGuard(new AddressPolicy(['127.0.0.0/8', '10.0.0.0/8'], ['127.0.0.1']), fakeDns({ 'remote.test': ['127.0.0.1'], 'internal.test': ['10.1.1.1'] })));

  const client = (config: Config, opts: { timeoutMs?: number } = {}) =>
    new HttpFederationClient(config, async () => key, new ServerResolver(fakeDns({ 'remote.test': ['127.0.0.1'] }), { fetch: async () => ({ kind: 'invalid' }) }, new FakeClock()), http, createLogger('silent'), opts);
  const config = (f: Record<string, unknown> = {}) => buildConfig({ server_name: 'me.test', federation: { enabled: true, verify_certificates: false, ...f } });

  beforeAll(async () => {
    server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, host: req.headers.host, sni: (req.socket as TLSSocket).servername, authorization: req.headers.authorization, body });
        reply(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    http.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    cert.remove();
  });
  beforeEach(() => {
    seen.length = 0;
    reply = (res) => res.end('{"ok":true}');
  });

  it('sends a signed JSON request with the server name as Host and the host name as SNI', async () => {
    const dest = `remote.test:${port}`;
    const answer = await client(config()).request({ destination: dest, method: 'PUT', path: '/_matrix/federation/v1/send/t%2F1', query: { ver: ['10', '11'], x: 'a b' }, body: { pdus: [] } });
    expect(answer).toEqual({ ok: true });
    const [req] = seen;
    expect(req).toMatchObject({ method: 'PUT', url: '/_matrix/federation/v1/send/t%2F1?ver=10&ver=11&x=a%20b', host: dest, sni: 'remote.test', body: '{"pdus":[]}' });
    const creds = parseXMatrix(req!.authorization!)!;
    expect(creds).toMatchObject({ origin: 'me.test', destination: dest, key: key.keyId });
    const signed = { ...requestJson('PUT', req!.url, 'me.test', dest, { pdus: [] }), signatures: { 'me.test': { [creds.key]: creds.sig } } };
    expect(verifyJsonSignature(signed, 'me.test', key.keyId, key.publicKeyBase64)).toBe(true);
  });

  it('sends no SNI to an IP literal, and no signature when asked not to', async () => {
    await client(config()).request({ destination: `127.0.0.1:${port}`, method: 'GET', path: '/_matrix/key/v2/server', signed: false });
    expect(seen[0]).toMatchObject({ host: `127.0.0.1:${port}`, sni: false, authorization: undefined, body: '' });
  });

  it('maps an error answer to a FederationError with the status and errcode', async () => {
    reply = (res) => { res.statusCode = 403; res.end('{"errcode":"M_FORBIDDEN","error":"go away"}'); };
    const err = await client(config()).request({ destination: `remote.test:${port}`, method: 'GET', path: '/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FederationError);
    expect(err).toMatchObject({ kind: 'http', status: 403, errcode: 'M_FORBIDDEN', body: { errcode: 'M_FORBIDDEN', error: 'go away' }, transient: false });
    reply = (res) => { res.statusCode = 502; res.end('<html>bad gateway</html>'); };
    expect(await client(config()).request({ destination: `remote.test:${port}`, method: 'GET', path: '/x' }).catch((e: unknown) => e)).toMatchObject({ kind: 'http', status: 502, errcode: undefined, transient: true });
    reply = (res) => res.end('not json');
    expect(await client(config()).request({ destination: `remote.test:${port}`, method: 'GET', path: '/x' }).catch((e: unknown) => e)).toMatchObject({ kind: 'bad_response' });
  });

  it('times out', async () => {
    reply = () => undefined;
    const err = await client(config(), { timeoutMs: 200 }).request({ destination: `remote.test:${port}`, method: 'GET', path: '/slow' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout', transient: true });
  });

  it('verifies certificates unless verify_certificates is false', async () => {
    const err = await client(config({ verify_certificates: true })).request({ destination: `remote.test:${port}`, method: 'GET', path: '/x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'network' });
    expect(seen).toEqual([]);
  });

  it('refuses without connecting: federation disabled, a server outside the whitelist, itself, a blacklisted address', async () => {
    const kinds = async (c: Config, destination: string) => ((await client(c).request({ destination, method: 'GET', path: '/x' }).catch((e: unknown) => e)) as FederationError).kind;
    expect(await kinds(buildConfig({ server_name: 'me.test' }), `remote.test:${port}`)).toBe('disabled');
    expect(await kinds(config({ domain_whitelist: ['other.test'] }), `remote.test:${port}`)).toBe('forbidden');
    expect(await kinds(config(), 'me.test')).toBe('forbidden');
    expect(await kinds(config(), `internal.test:${port}`)).toBe('blocked');
    expect(await kinds(config(), `10.0.0.1:${port}`)).toBe('blocked');
    expect(await kinds(config(), `[::ffff:10.0.0.1]:${port}`)).toBe('blocked');
    expect(await kinds(config(), 'not a name')).toBe('discovery');
    expect(seen).toEqual([]);
  });
});

describe('encodeQuery', () => {
  it('repeats array parameters, percent-encodes, skips undefined', () => {
    expect(encodeQuery({ a: ['1', 2], b: 'x/y z', c: undefined, d: true })).toBe('?a=1&a=2&b=x%2Fy%20z&d=true');
    expect(encodeQuery({})).toBe('');
  });
});
