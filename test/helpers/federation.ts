// Helpers for tests of the server-server API: a remote server's key (made known to the server under
// test as if fetched), and requests signed as that server would sign them.
import type { Test } from 'supertest';
import { signJson, SigningKey } from '../../src/core/crypto/signing.js';
import type { DnsResolver, SrvRecord } from '../../src/core/net/dns.js';
import { requestJson, signRequest } from '../../src/core/federation/x-matrix.js';
import type { TestServer } from './server.js';

export interface RemoteServer {
  name: string;
  key: SigningKey;
  /** The X-Matrix header of a request from this server to `destination`. */
  authorization(method: string, uri: string, destination: string, content?: unknown): string;
}

/** A remote server whose current key the test server already knows (valid for a day). */
export async function knownRemote(s: TestServer, name: string, key = SigningKey.generate()): Promise<RemoteServer> {
  const now = s.clock.now();
  const answer = signJson({ server_name: name, verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } }, old_verify_keys: {}, valid_until_ts: now + 86_400_000 }, name, key);
  await s.services.storage.federation.storeServerKeys(name, { json: JSON.stringify(answer), validUntilTs: now + 86_400_000, fetchedTs: now }, [
    { serverName: name, keyId: key.keyId, publicKey: key.publicKeyBase64, validUntilTs: now + 86_400_000, expiredTs: null, fetchedTs: now },
  ]);
  return {
    name, key,
    authorization: (method, uri, destination, content) => signRequest(requestJson(method, uri, name, destination, content), key),
  };
}

/** A signed PUT as `remote` would send it to the test server. */
export function signedPut(s: TestServer, remote: RemoteServer, uri: string, body: unknown, destination = s.config.server_name): Test {
  return s.http.put(uri).set('Authorization', remote.authorization('PUT', uri, destination, body)).send(body as object);
}

/** A signed POST as `remote` would send it to the test server. */
export function signedPost(s: TestServer, remote: RemoteServer, uri: string, body: unknown, destination = s.config.server_name): Test {
  return s.http.post(uri).set('Authorization', remote.authorization('POST', uri, destination, body)).send(body as object);
}

/** A signed GET as `remote` would send it to the test server (`uri` with its query, exactly as sent). */
export function signedGet(s: TestServer, remote: RemoteServer, uri: string, destination = s.config.server_name): Test {
  return s.http.get(uri).set('Authorization', remote.authorization('GET', uri, destination));
}

/** A DNS that knows only the given hosts and SRV names (anything else: ENOTFOUND / no records). */
export function fakeDns(hosts: Record<string, string[]> = {}, srv: Record<string, SrvRecord[]> = {}): DnsResolver {
  return {
    async lookupHost(name) {
      const a = hosts[name];
      if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return a.map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const }));
    },
    async resolveSrv(name) {
      return srv[name] ?? [];
    },
  };
}
