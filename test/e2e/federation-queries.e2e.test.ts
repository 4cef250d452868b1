// Two real Hearths over TLS on loopback (like federation.e2e.test.ts) asking each other for what
// clients look up across servers: profiles (query/profile), room aliases (query/directory) and
// public room lists (publicRooms), both ways, through the client API; and what a client gets when
// the other server cannot be reached.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { MatrixHttpClient } from '../helpers/matrix-http.js';
import { freePort } from '../helpers/net.js';
import { makeSelfSignedCertificate } from '../helpers/tls.js';

async function register(hs: RunningServer, username: string): Promise<MatrixHttpClient> {
  const anon = new MatrixHttpClient(hs.url);
  const r = await anon.ok<{ user_id: string; access_token: string }>('POST', '/_matrix/client/v3/register', {
    body: { username, password: 'a long password', auth: { type: 'm.login.dummy' } },
  });
  return anon.as({ userId: r.user_id, accessToken: r.access_token });
}

describe('two Hearths answering each other\'s queries over TLS on loopback', () => {
  const cert = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-fedq-'));
  let hs1: RunningServer;
  let hs2: RunningServer;
  let name1 = '';
  let name2 = '';
  let alice: MatrixHttpClient; // on hs1
  let bob: MatrixHttpClient; // on hs2
  let lobby = ''; // a public room on hs1 with alias #lobby
  let den = ''; // a public room on hs2 with alias #den

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

  beforeAll(async () => {
    const port1 = await freePort();
    const port2 = await freePort();
    name1 = `localhost:${port1}`;
    name2 = `localhost:${port2}`;
    hs1 = await startServer(configFor(name1, port1, 'hs1.db'));
    hs2 = await startServer(configFor(name2, port2, 'hs2.db'));
    alice = await register(hs1, 'alice');
    bob = await register(hs2, 'bob');
    await alice.setDisplayName('Alice of hs1');
    await alice.setAvatarUrl(`mxc://${name1}/alice`);
    await bob.setDisplayName('Bob of hs2');
    lobby = await alice.createRoom({ visibility: 'public', preset: 'public_chat', name: 'The lobby', topic: 'Cats welcome', room_alias_name: 'lobby' });
    await alice.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Quiet room' });
    await alice.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Third room' });
    den = await bob.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Bob\'s den', room_alias_name: 'den' });
  });
  afterAll(async () => {
    await hs1?.stop();
    await hs2?.stop();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  });

  describe('profiles', () => {
    it('a client of hs2 reads the profile of a user of hs1, whole and field by field', async () => {
      expect(await bob.profile(alice.userId!)).toEqual({ status: 200, body: { displayname: 'Alice of hs1', avatar_url: `mxc://${name1}/alice` } });
      expect(await bob.profileField(alice.userId!, 'displayname')).toEqual({ status: 200, body: { displayname: 'Alice of hs1' } });
      expect(await bob.profileField(alice.userId!, 'avatar_url')).toEqual({ status: 200, body: { avatar_url: `mxc://${name1}/alice` } });
    });

    it('and the other way: a client of hs1 reads a user of hs2', async () => {
      expect(await alice.profile(bob.userId!)).toEqual({ status: 200, body: { displayname: 'Bob of hs2' } });
    });

    it('an unknown remote user, or a field not set, is 404 M_NOT_FOUND', async () => {
      const unknown = await bob.profile(`@nobody:${name1}`);
      expect({ status: unknown.status, errcode: unknown.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
      const noTz = await alice.profileField(bob.userId!, 'm.tz');
      expect({ status: noTz.status, errcode: noTz.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('hs2 reuses the profile it fetched (cached for a minute): a change on hs1 does not show there at once', async () => {
      await bob.profile(alice.userId!);
      await alice.setDisplayName('Alice renamed');
      expect((await alice.profile(alice.userId!)).body).toMatchObject({ displayname: 'Alice renamed' });
      expect((await bob.profile(alice.userId!)).body).toMatchObject({ displayname: 'Alice of hs1' });
    });
  });

  describe('room aliases', () => {
    it('a client of hs2 resolves an alias of hs1 to the room and hs1', async () => {
      expect(await bob.resolveAlias(`#lobby:${name1}`)).toEqual({ status: 200, body: { room_id: lobby, servers: [name1] } });
    });

    it('and the other way', async () => {
      expect(await alice.resolveAlias(`#den:${name2}`)).toEqual({ status: 200, body: { room_id: den, servers: [name2] } });
    });

    it('an unknown remote alias is 404 M_NOT_FOUND', async () => {
      const r = await bob.resolveAlias(`#nowhere:${name1}`);
      expect({ status: r.status, errcode: r.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('resolveRoomIdOrAliasWithServers (for joins) gives the remote room and the servers to join through', async () => {
      expect(await hs2.services.directory.resolveRoomIdOrAliasWithServers(`#lobby:${name1}`)).toEqual({ roomId: lobby, servers: [name1] });
    });
  });

  describe('public room lists', () => {
    const names = (body: Record<string, unknown>) => (body.chunk as { name?: string }[]).map((c) => c.name);

    it('a client of hs2 lists hs1\'s public rooms (GET, paged with limit and since)', async () => {
      const all = await bob.publicRooms({ server: name1 });
      expect(all.status).toBe(200);
      expect(names(all.body).sort()).toEqual(['Quiet room', 'The lobby', 'Third room']);
      expect(all.body.total_room_count_estimate).toBe(3);
      const first = await bob.publicRooms({ server: name1, limit: 2 });
      expect(names(first.body)).toHaveLength(2);
      const second = await bob.publicRooms({ server: name1, limit: 2, since: first.body.next_batch as string });
      expect([...names(first.body), ...names(second.body)].sort()).toEqual(['Quiet room', 'The lobby', 'Third room']);
      expect(second.body).not.toHaveProperty('next_batch');
    });

    it('searches hs1\'s list (POST with a filter)', async () => {
      const r = await bob.searchPublicRooms({ filter: { generic_search_term: 'cats' } }, name1);
      expect(r.status).toBe(200);
      expect(r.body.chunk).toEqual([expect.objectContaining({ room_id: lobby, name: 'The lobby', topic: 'Cats welcome', canonical_alias: `#lobby:${name1}`, num_joined_members: 1 })]);
    });

    it('and the other way', async () => {
      const r = await alice.publicRooms({ server: name2 });
      expect(names(r.body)).toEqual(['Bob\'s den']);
    });
  });

  describe('a server that cannot be reached', () => {
    it('profile, alias and room list lookups are 502 M_UNKNOWN, never 500', async () => {
      const dead = `localhost:${await freePort()}`;
      for (const r of [await bob.profile(`@x:${dead}`), await bob.resolveAlias(`#x:${dead}`), await bob.publicRooms({ server: dead })]) {
        expect({ status: r.status, errcode: r.body.errcode }).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
      }
    });
  });
});
