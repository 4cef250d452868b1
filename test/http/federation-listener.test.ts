// The federation listener (federation.enabled): createHearth starts it and close() stops it; plain
// HTTP without TLS files (behind a reverse proxy), HTTPS with them; only /_matrix/federation and
// /_matrix/key; the client listener keeps serving both prefixes.
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import request from 'supertest';
import { FakeClock } from '../../src/clock.js';
import { ConfigError, createHearth } from '../../src/index.js';
import { createLogger } from '../../src/logger.js';
import { makeSelfSignedCertificate } from '../helpers/tls.js';

const logger = createLogger('silent');

function fetchJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
    }).on('error', reject);
  });
}

describe('the federation listener', () => {
  it('is not started while federation is disabled', async () => {
    const hearth = await createHearth({ database: { path: ':memory:' } }, { clock: new FakeClock(), logger });
    expect(hearth.federationListener).toBeUndefined();
    await hearth.close();
  });

  it('speaks plain HTTP without TLS files, serves only the federation and key prefixes, and close() stops it', async () => {
    const hearth = await createHearth({ database: { path: ':memory:' }, federation: { enabled: true, listen: { host: '127.0.0.1', port: 0 } } }, { clock: new FakeClock(), logger });
    const url = hearth.federationListener!.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetchJson(`${url}/_matrix/key/v2/server`)).body.server_name).toBe('localhost');
    expect((await fetchJson(`${url}/_matrix/federation/v1/version`)).status).toBe(200);
    for (const path of ['/_matrix/client/versions', '/metrics', '/', '/.well-known/matrix/client']) {
      const res = await fetchJson(`${url}${path}`);
      expect([path, res.status, res.body.errcode]).toEqual([path, 404, 'M_UNRECOGNIZED']);
    }
    // The client app still serves both prefixes (one port behind a reverse proxy).
    expect((await request(hearth.app).get('/_matrix/key/v2/server')).status).toBe(200);
    expect((await request(hearth.app).get('/_matrix/federation/v1/version')).status).toBe(200);
    await hearth.close();
    await expect(fetchJson(`${url}/_matrix/key/v2/server`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('speaks HTTPS with the configured certificate and key', async () => {
    const cert = makeSelfSignedCertificate();
    try {
      const hearth = await createHearth({
        database: { path: ':memory:' },
        federation: { enabled: true, listen: { host: '127.0.0.1', port: 0 }, tls_certificate_path: cert.certPath, tls_private_key_path: cert.keyPath },
      }, { clock: new FakeClock(), logger });
      const url = hearth.federationListener!.url;
      expect(url).toMatch(/^https:\/\//);
      expect((await fetchJson(`${url}/_matrix/key/v2/server`)).status).toBe(200);
      await hearth.close();
    } finally {
      cert.remove();
    }
  });

  it('refuses to start with a certificate file it cannot read (ConfigError naming the key)', async () => {
    const err = await createHearth({
      database: { path: ':memory:' },
      federation: { enabled: true, listen: { host: '127.0.0.1', port: 0 }, tls_certificate_path: '/nonexistent/cert.pem', tls_private_key_path: '/nonexistent/key.pem' },
    }, { clock: new FakeClock(), logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toMatch(/^federation\.tls_certificate_path: cannot read \/nonexistent\/cert\.pem/);
  });
});
