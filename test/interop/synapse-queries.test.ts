// Hearth and a real Synapse (test/helpers/synapse.ts) asking each other, through their client APIs,
// for what clients look up across servers: profiles (query/profile), room aliases (query/directory)
// and public room lists (publicRooms), both ways; Synapse's rooms in room versions 11 and 12 (its
// default).
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { MatrixHttpClient } from '../helpers/matrix-http.js';
import { freePort } from '../helpers/net.js';
import { startSynapse, SYNAPSE_START_TIMEOUT_MS, type Synapse, type SynapseUser } from '../helpers/synapse.js';
import { makeSelfSignedCertificate } from '../helpers/tls.js';

jest.setTimeout(60_000);

const errorOf = (r: { status: number; body: Record<string, unknown> }) => ({ status: r.status, errcode: r.body.errcode });

describe('Hearth and Synapse: profiles, aliases and public room lists, both ways', () => {
  const cert = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-interop-'));
  let synapse: Synapse;
  let hearth: RunningServer;
  let hearthName = '';
  let alice: SynapseUser; // on Synapse
  let bob: MatrixHttpClient; // on Hearth
  let hearthLobby = '';
  let synapseV11 = '';
  let synapseV12 = '';

  beforeAll(async () => {
    synapse = await startSynapse({ label: 'synapse-queries' });
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
    const anon = new MatrixHttpClient(hearth.url);
    const reg = await anon.ok<{ user_id: string; access_token: string }>('POST', '/_matrix/client/v3/register', {
      body: { username: 'bob', password: 'a long password', auth: { type: 'm.login.dummy' } },
    });
    bob = anon.as({ userId: reg.user_id, accessToken: reg.access_token });
    await bob.setDisplayName('Bob on Hearth');
    await bob.setAvatarUrl(`mxc://${hearthName}/bob`);
    hearthLobby = await bob.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Hearth lobby', topic: 'Tea and cats', room_alias_name: 'lobby' });
    await bob.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Hearth kitchen', room_version: '12' });

    alice = await synapse.registerUser('alice', { displayname: 'Alice on Synapse' });
    await alice.client.setAvatarUrl(`mxc://${synapse.serverName}/alice`);
    synapseV11 = await alice.client.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Synapse v11 room', topic: 'Dogs', room_alias_name: 'v11', room_version: '11' });
    synapseV12 = await alice.client.createRoom({ visibility: 'public', preset: 'public_chat', name: 'Synapse v12 room', room_alias_name: 'v12' });
  }, SYNAPSE_START_TIMEOUT_MS);

  afterAll(async () => {
    await hearth?.stop();
    await synapse?.stop();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  });

  it('Synapse creates room version 12 rooms by default', async () => {
    const create = await alice.client.ok<{ room_version: string }>('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(synapseV12)}/state/m.room.create/`);
    expect(create.room_version).toBe('12');
  });

  describe('Synapse asks Hearth', () => {
    it('for the profile of a Hearth user, whole and field by field', async () => {
      expect(await alice.client.profile(bob.userId!)).toEqual({ status: 200, body: { displayname: 'Bob on Hearth', avatar_url: `mxc://${hearthName}/bob` } });
      expect(await alice.client.profileField(bob.userId!, 'displayname')).toEqual({ status: 200, body: { displayname: 'Bob on Hearth' } });
      expect(await alice.client.profileField(bob.userId!, 'avatar_url')).toEqual({ status: 200, body: { avatar_url: `mxc://${hearthName}/bob` } });
    });

    it('for an unknown Hearth user: 404 M_NOT_FOUND', async () => {
      expect(errorOf(await alice.client.profile(`@nobody:${hearthName}`))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('for a Hearth alias', async () => {
      expect(await alice.client.resolveAlias(`#lobby:${hearthName}`)).toEqual({ status: 200, body: { room_id: hearthLobby, servers: [hearthName] } });
    });

    it('for an unknown Hearth alias: 404 M_NOT_FOUND', async () => {
      expect(errorOf(await alice.client.resolveAlias(`#nowhere:${hearthName}`))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('for Hearth\'s public room list (GET), and searches it (POST with a filter)', async () => {
      const list = await alice.client.publicRooms({ server: hearthName });
      expect(list.status).toBe(200);
      expect((list.body.chunk as { name: string }[]).map((c) => c.name).sort()).toEqual(['Hearth kitchen', 'Hearth lobby']);
      const search = await alice.client.searchPublicRooms({ filter: { generic_search_term: 'cats' } }, hearthName);
      expect(search.status).toBe(200);
      expect(search.body.chunk).toEqual([expect.objectContaining({ room_id: hearthLobby, name: 'Hearth lobby', topic: 'Tea and cats', canonical_alias: `#lobby:${hearthName}`, num_joined_members: 1 })]);
    });
  });

  describe('Hearth asks Synapse', () => {
    it('for the profile of a Synapse user, whole and field by field', async () => {
      expect(await bob.profile(alice.userId)).toEqual({ status: 200, body: { displayname: 'Alice on Synapse', avatar_url: `mxc://${synapse.serverName}/alice` } });
      expect(await bob.profileField(alice.userId, 'displayname')).toEqual({ status: 200, body: { displayname: 'Alice on Synapse' } });
    });

    it('for an unknown Synapse user: 404 M_NOT_FOUND', async () => {
      expect(errorOf(await bob.profile(`@nobody:${synapse.serverName}`))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('for Synapse aliases of rooms in versions 11 and 12', async () => {
      expect(await bob.resolveAlias(`#v11:${synapse.serverName}`)).toEqual({ status: 200, body: { room_id: synapseV11, servers: [synapse.serverName] } });
      expect(await bob.resolveAlias(`#v12:${synapse.serverName}`)).toEqual({ status: 200, body: { room_id: synapseV12, servers: [synapse.serverName] } });
      expect(await hearth.services.directory.resolveRoomIdOrAliasWithServers(`#v12:${synapse.serverName}`)).toEqual({ roomId: synapseV12, servers: [synapse.serverName] });
    });

    it('for an unknown Synapse alias: 404 M_NOT_FOUND', async () => {
      expect(errorOf(await bob.resolveAlias(`#nowhere:${synapse.serverName}`))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    });

    it('for Synapse\'s public room list (GET, paged), and searches it (POST with a filter)', async () => {
      const list = await bob.publicRooms({ server: synapse.serverName });
      expect(list.status).toBe(200);
      expect((list.body.chunk as { room_id: string }[]).map((c) => c.room_id).sort()).toEqual([synapseV11, synapseV12].sort());
      const first = await bob.publicRooms({ server: synapse.serverName, limit: 1 });
      expect(first.body.chunk).toHaveLength(1);
      const second = await bob.publicRooms({ server: synapse.serverName, limit: 1, since: first.body.next_batch as string });
      expect([...(first.body.chunk as { room_id: string }[]), ...(second.body.chunk as { room_id: string }[])].map((c) => c.room_id).sort()).toEqual([synapseV11, synapseV12].sort());
      const search = await bob.searchPublicRooms({ filter: { generic_search_term: 'dogs' } }, synapse.serverName);
      expect(search.status).toBe(200);
      expect(search.body.chunk).toEqual([expect.objectContaining({ room_id: synapseV11, name: 'Synapse v11 room', topic: 'Dogs', canonical_alias: `#v11:${synapse.serverName}`, num_joined_members: 1 })]);
    });
  });
});
