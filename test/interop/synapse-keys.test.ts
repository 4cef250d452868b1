// Hearth and a real Synapse on loopback (test/helpers/synapse.ts), both federating over TLS with
// server names `localhost:<port>`: each fetches the other's server key and serves it as a notary
// signed by both, and each authenticates the other's signed requests (X-Matrix), including the
// destination; forged requests are refused by Synapse.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config.js';
import { SigningKey, verifyJsonSignature } from '../../src/core/crypto/signing.js';
import { requestJson, signRequest } from '../../src/core/federation/x-matrix.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { insecureHttpsJson, MatrixHttpClient } from '../helpers/matrix-http.js';
import { freePort } from '../helpers/net.js';
import { startSynapse, SYNAPSE_START_TIMEOUT_MS, type Synapse, type SynapseUser } from '../helpers/synapse.js';
import { makeSelfSignedCertificate } from '../helpers/tls.js';

jest.setTimeout(60_000);

describe('Hearth and Synapse: server keys and signed requests', () => {
  const cert = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-interop-'));
  let synapse: Synapse;
  let hearth: RunningServer;
  let hearthName = '';
  let alice: SynapseUser;

  beforeAll(async () => {
    synapse = await startSynapse({ label: 'synapse-keys' });
    const port = await freePort();
    hearthName = `localhost:${port}`;
    hearth = await startServer(buildConfig({
      server_name: hearthName,
      listen: { host: '127.0.0.1', port: 0 },
      database: { path: join(dir, 'hearth.db') },
      logging: { level: 'silent' },
      rate_limits: { enabled: false },
      federation: {
        enabled: true, listen: { host: '127.0.0.1', port },
        tls_certificate_path: cert.certPath, tls_private_key_path: cert.keyPath, verify_certificates: false,
      },
      ip_range_whitelist: ['127.0.0.1', '::1'],
    }));
    alice = await synapse.registerUser('alice', { displayname: 'Alice on Synapse' });
  }, SYNAPSE_START_TIMEOUT_MS);

  afterAll(async () => {
    await hearth?.stop();
    await synapse?.stop();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  });

  it('Synapse fetches Hearth\'s key and serves it as a notary, signed by Hearth and by Synapse', async () => {
    const own = await hearth.services.signingKey();
    // Synapse's notary fetches keys it lacks only for a query that names key IDs (the POST form,
    // which Synapse itself uses; it insists on minimum_valid_until_ts there, which the spec makes
    // optional); GET /query/{serverName} answers from its cache alone.
    const before = await insecureHttpsJson(`${synapse.federationUrl}/_matrix/key/v2/query/${encodeURIComponent(hearthName)}`);
    expect(before).toEqual({ status: 200, body: { server_keys: [] } });
    const r = await insecureHttpsJson(`${synapse.federationUrl}/_matrix/key/v2/query`, { method: 'POST', body: { server_keys: { [hearthName]: { [own.keyId]: { minimum_valid_until_ts: Date.now() } } } } });
    expect(r.status).toBe(200);
    const [answer] = r.body.server_keys as Record<string, unknown>[];
    expect(answer).toMatchObject({ server_name: hearthName, verify_keys: { [own.keyId]: { key: own.publicKeyBase64 } } });
    expect(verifyJsonSignature(answer!, hearthName, own.keyId, own.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature(answer!, synapse.serverName, synapse.signingKey.keyId, synapse.signingKey.publicKeyBase64)).toBe(true);
    const cached = await insecureHttpsJson(`${synapse.federationUrl}/_matrix/key/v2/query/${encodeURIComponent(hearthName)}`);
    expect((cached.body.server_keys as unknown[]).length).toBe(1);
  });

  it('Hearth fetches Synapse\'s key through its KeyRing and serves it as a notary, signed by both', async () => {
    await hearth.services.federation.keyRing.refresh(synapse.serverName);
    const stored = await hearth.services.storage.federation.getServerKeys(synapse.serverName);
    expect(stored.map((k) => [k.keyId, k.publicKey])).toEqual([[synapse.signingKey.keyId, synapse.signingKey.publicKeyBase64]]);
    const r = await insecureHttpsJson(`${hearth.federationUrl!}/_matrix/key/v2/query/${encodeURIComponent(synapse.serverName)}`);
    const [answer] = r.body.server_keys as Record<string, unknown>[];
    const own = await hearth.services.signingKey();
    expect(verifyJsonSignature(answer!, synapse.serverName, synapse.signingKey.keyId, synapse.signingKey.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature(answer!, hearthName, own.keyId, own.publicKeyBase64)).toBe(true);
  });

  it('Synapse authenticates a signed request from Hearth (query/profile of a Synapse user)', async () => {
    const profile = await hearth.services.federation.client.request({
      destination: synapse.serverName, method: 'GET', path: '/_matrix/federation/v1/query/profile', query: { user_id: alice.userId },
    });
    expect(profile).toEqual({ displayname: 'Alice on Synapse' });
  });

  it('Synapse refuses a forged signature and a wrong destination with 401', async () => {
    const uri = `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(alice.userId)}`;
    const own = await hearth.services.signingKey();
    const forger = SigningKey.fromSeed(own.keyId, Buffer.alloc(32, 7));
    const forged = await insecureHttpsJson(`${synapse.federationUrl}${uri}`, { headers: { Authorization: signRequest(requestJson('GET', uri, hearthName, synapse.serverName), forger) } });
    expect({ status: forged.status, errcode: forged.body.errcode }).toEqual({ status: 401, errcode: 'M_UNAUTHORIZED' });
    const elsewhere = await insecureHttpsJson(`${synapse.federationUrl}${uri}`, { headers: { Authorization: signRequest(requestJson('GET', uri, hearthName, 'localhost:1'), own) } });
    expect(elsewhere.status).toBe(401);
    const genuine = await insecureHttpsJson(`${synapse.federationUrl}${uri}`, { headers: { Authorization: signRequest(requestJson('GET', uri, hearthName, synapse.serverName), own) } });
    expect(genuine).toEqual({ status: 200, body: { displayname: 'Alice on Synapse' } });
  });

  it('Hearth authenticates a signed request from Synapse (Synapse\'s client API asks Hearth for a profile)', async () => {
    const hearthClient = new MatrixHttpClient(hearth.url);
    const reg = await hearthClient.ok<{ user_id: string; access_token: string }>('POST', '/_matrix/client/v3/register', {
      body: { username: 'bob', password: 'a long password', auth: { type: 'm.login.dummy' } },
    });
    await hearthClient.as({ userId: reg.user_id, accessToken: reg.access_token }).setDisplayName('Bob on Hearth');
    const r = await alice.client.profile(reg.user_id);
    // Hearth answers query/profile only to an authenticated server: the signature and destination checked out.
    expect(r).toEqual({ status: 200, body: { displayname: 'Bob on Hearth' } });
  });
});
