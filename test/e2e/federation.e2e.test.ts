// Two real Hearths federating over TLS on loopback (issue 16): each started by startServer with a
// federation listener on its own port, a self-signed certificate, verify_certificates off and
// loopback whitelisted, server names `localhost:<port>` (explicit ports: no well-known, no SRV).
// hs1 fetches hs2's keys (and serves them as a notary), sends a signed transaction that hs2
// authenticates by fetching hs1's keys; forged signatures and wrong destinations are refused; hs2
// goes down while hs1 queues, comes back on the same port and database, and gets it once.
import { createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config.js';
import { SigningKey, verifyJsonSignature } from '../../src/core/crypto/signing.js';
import type { Edu, FederationEventHandler, PduResult } from '../../src/core/federation/handler.js';
import { requestJson, signRequest } from '../../src/core/federation/x-matrix.js';
import { startServer, type RunningServer } from '../../src/main.js';
import type { JsonObject } from '../../src/wire.js';
import { makeSelfSignedCertificate } from '../helpers/tls.js';

/** Records every PDU and EDU received, with its origin. */
class Recorder implements FederationEventHandler {
  pdus: { origin: string; pdu: JsonObject }[] = [];
  edus: { origin: string; edu: Edu }[] = [];
  async onPdu(origin: string, pdu: JsonObject): Promise<PduResult> {
    this.pdus.push({ origin, pdu });
    return { eventId: `$${String(pdu.depth)}` };
  }
  async onEdu(origin: string, edu: Edu): Promise<void> {
    this.edus.push({ origin, edu });
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw HTTPS request to a federation listener (certificate not verified). */
function rawRequest(url: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpsRequest({ host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}) }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('two Hearths federating over TLS on loopback', () => {
  const cert = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-fed-'));
  let port1 = 0;
  let port2 = 0;
  let name1 = '';
  let name2 = '';
  let hs1: RunningServer;
  let hs2: RunningServer;
  let rec2 = new Recorder();

  const configFor = (name: string, port: number, db: string) => buildConfig({
    server_name: name,
    listen: { host: '127.0.0.1', port: 0 },
    database: { path: join(dir, db) },
    logging: { level: 'silent' },
    rate_limits: { enabled: false },
    federation: {
      enabled: true, listen: { host: '127.0.0.1', port },
      tls_certificate_path: cert.certPath, tls_private_key_path: cert.keyPath, verify_certificates: false,
    },
    ip_range_whitelist: ['127.0.0.1', '::1'],
  });
  const start2 = async () => {
    rec2 = new Recorder();
    hs2 = await startServer(configFor(name2, port2, 'hs2.db'), { federation: { eventHandler: rec2 } });
  };

  beforeAll(async () => {
    port1 = await freePort();
    port2 = await freePort();
    name1 = `localhost:${port1}`;
    name2 = `localhost:${port2}`;
    hs1 = await startServer(configFor(name1, port1, 'hs1.db'), { federation: { sender: { initialBackoffMs: 200, maxBackoffMs: 800 } } });
    await start2();
  });
  afterAll(async () => {
    await hs1?.stop();
    await hs2?.stop();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  });

  it('serves only /_matrix/federation and /_matrix/key on the federation listener, over TLS', async () => {
    expect(hs2.federationUrl).toBe(`https://127.0.0.1:${port2}`);
    const version = await rawRequest(hs2.federationUrl!, 'GET', '/_matrix/federation/v1/version', {});
    expect(version.status).toBe(200);
    const client = await rawRequest(hs2.federationUrl!, 'GET', '/_matrix/client/versions', {});
    expect({ status: client.status, errcode: client.json.errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
  });

  it('hs1 fetches hs2\'s keys from hs2, and serves them as a notary signed by both', async () => {
    const fed1 = hs1.services.federation;
    await fed1.keyRing.refresh(name2);
    const key2 = await hs2.services.signingKey();
    const stored = await hs1.services.storage.federation.getServerKeys(name2);
    expect(stored.map((k) => [k.keyId, k.publicKey])).toEqual([[key2.keyId, key2.publicKeyBase64]]);
    const notary = await rawRequest(hs1.federationUrl!, 'GET', `/_matrix/key/v2/query/${encodeURIComponent(name2)}`, {});
    const [answer] = notary.json.server_keys as Record<string, unknown>[];
    const key1 = await hs1.services.signingKey();
    expect(verifyJsonSignature(answer!, name2, key2.keyId, key2.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature(answer!, name1, key1.keyId, key1.publicKeyBase64)).toBe(true);
  });

  it('hs1 sends a signed transaction with an EDU and a PDU; hs2 authenticates it by hs1\'s key', async () => {
    await hs1.services.federation.sender.sendEdu(name2, { edu_type: 'org.example.hello', content: { n: 1 } });
    await hs1.services.federation.sender.sendPdu([name2], { type: 'm.room.message', room_id: '!r:x', sender: `@a:${name1}`, depth: 7, content: {} });
    await until('the EDU and the PDU at hs2', () => rec2.edus.length === 1 && rec2.pdus.length === 1);
    expect(rec2.edus).toEqual([{ origin: name1, edu: { edu_type: 'org.example.hello', content: { n: 1 } } }]);
    expect(rec2.pdus[0]!.origin).toBe(name1);
    const key1 = await hs1.services.signingKey();
    expect((await hs2.services.storage.federation.getServerKeys(name1)).map((k) => k.keyId)).toEqual([key1.keyId]);
  });

  it('hs1\'s client gets a federation error with the remote\'s status and errcode', async () => {
    const err = await hs1.services.federation.client.request({ destination: name2, method: 'GET', path: '/_matrix/federation/v1/nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'http', status: 404, errcode: 'M_UNRECOGNIZED' });
  });

  it('hs2 refuses a forged signature and a wrong destination with 401 M_UNAUTHORIZED', async () => {
    const key1 = await hs1.services.signingKey();
    const body = { origin: name1, origin_server_ts: Date.now(), pdus: [] };
    const path = '/_matrix/federation/v1/send/forged';
    const forger = SigningKey.fromSeed(key1.keyId, Buffer.alloc(32, 3));
    const forged = await rawRequest(hs2.federationUrl!, 'PUT', path, { Authorization: signRequest(requestJson('PUT', path, name1, name2, body), forger) }, body);
    expect({ status: forged.status, errcode: forged.json.errcode }).toEqual({ status: 401, errcode: 'M_UNAUTHORIZED' });
    const elsewhere = await rawRequest(hs2.federationUrl!, 'PUT', path, { Authorization: signRequest(requestJson('PUT', path, name1, 'localhost:1', body), key1) }, body);
    expect({ status: elsewhere.status, errcode: elsewhere.json.errcode }).toEqual({ status: 401, errcode: 'M_UNAUTHORIZED' });
    const genuine = await rawRequest(hs2.federationUrl!, 'PUT', path, { Authorization: signRequest(requestJson('PUT', path, name1, name2, body), key1) }, body);
    expect(genuine.status).toBe(200);
  });

  it('hs2 down while hs1 queues; back on the same port and database, it gets the transaction once', async () => {
    await hs2.stop();
    await hs1.services.federation.sender.sendEdu(name2, { edu_type: 'org.example.queued', content: { n: 2 } });
    await hs1.services.federation.sender.sendPdu([name2], { type: 'm.room.message', room_id: '!r:x', sender: `@a:${name1}`, depth: 8, content: {} });
    let backingOff = false;
    await until('a failed attempt', () => {
      void hs1.services.storage.federation.getDestination(name2).then((d) => { backingOff = (d?.retryIntervalMs ?? 0) > 0; });
      return backingOff;
    });
    await start2();
    await until('the queued transaction at hs2', () => rec2.edus.length === 1 && rec2.pdus.length === 1);
    // Long enough for any duplicate retry to arrive.
    await new Promise((r) => setTimeout(r, 1200));
    expect(rec2.edus).toEqual([{ origin: name1, edu: { edu_type: 'org.example.queued', content: { n: 2 } } }]);
    expect(rec2.pdus.map((p) => p.pdu.depth)).toEqual([8]);
    expect(await hs1.services.storage.federation.destinationsWithQueue()).toEqual([]);
    expect(await hs1.services.storage.federation.getDestination(name2)).toMatchObject({ retryIntervalMs: 0 });
  });
});
