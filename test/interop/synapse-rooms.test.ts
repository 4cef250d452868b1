// Hearth and a real Synapse 1.163 (test/helpers/synapse.ts) sharing rooms (issue 16): the same flows
// with the room held by Synapse and with the room held by Hearth, in room versions 11 and 12 (Synapse's
// default): remote joins (Synapse asks Hearth for partial state with omit_members=true), messages both
// ways, invites with a reason across servers (countersigned by the invitee's server), an invite
// rejected, kicks and bans, and history from before a join read through backfill.
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

jest.setTimeout(90_000);

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
type Ev = Record<string, any>;

/** A client that keeps its /sync position, for waiting on what arrives next. */
class Syncer {
  since?: string;
  constructor(readonly client: MatrixHttpClient, readonly name: string) {}

  /** Incremental syncs until `check` finds what it wants (an initial sync first when there is no position). */
  async until<T>(what: string, check: (body: Ev) => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} in ${this.name}'s /sync`);
      const body = await this.client.sync(this.since ? { since: this.since, timeout: Math.min(3000, left) } : { timeout: 0 }) as Ev;
      this.since = body.next_batch;
      const v = check(body);
      if (v) return v;
    }
  }
}

const timeline = (b: Ev, roomId: string): Ev[] => b.rooms?.join?.[roomId]?.timeline?.events ?? [];
const memberIs = (userId: string, membership: string) => (e: Ev) => e.type === 'm.room.member' && e.state_key === userId && e.content?.membership === membership;

async function messagesBack(client: MatrixHttpClient, roomId: string, pages = 10): Promise<Ev[]> {
  const out: Ev[] = [];
  let from: string | undefined;
  for (let i = 0; i < pages; i++) {
    const r = await client.ok<{ chunk: Ev[]; end?: string }>('GET', `${C}/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 20, ...(from ? { from } : {}) } });
    out.push(...r.chunk);
    if (!r.end || r.chunk.length === 0) break;
    from = r.end;
  }
  return out;
}

describe('Hearth and Synapse share rooms', () => {
  const cert = makeSelfSignedCertificate('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-interop-rooms-'));
  let synapse: Synapse;
  let hearth: RunningServer;
  let hearthName = '';
  let n = 0;

  const hearthUser = async (name: string): Promise<{ client: MatrixHttpClient; userId: string; sync: Syncer }> => {
    const anon = new MatrixHttpClient(hearth.url);
    const reg = await anon.ok<{ user_id: string; access_token: string }>('POST', `${C}/register`, {
      body: { username: `${name}${++n}`, password: 'a long password', auth: { type: 'm.login.dummy' } },
    });
    const client = anon.as({ userId: reg.user_id, accessToken: reg.access_token });
    return { client, userId: reg.user_id, sync: new Syncer(client, `${reg.user_id} (Hearth)`) };
  };
  const synapseUser = async (name: string): Promise<{ client: MatrixHttpClient; userId: string; sync: Syncer; user: SynapseUser }> => {
    const user = await synapse.registerUser(`${name}${++n}`);
    return { client: user.client, userId: user.userId, sync: new Syncer(user.client, `${user.userId} (Synapse)`), user };
  };

  beforeAll(async () => {
    synapse = await startSynapse({ label: 'synapse-rooms' });
    const port = await freePort();
    hearthName = `localhost:${port}`;
    hearth = await startServer(buildConfig({
      server_name: hearthName,
      listen: { host: '127.0.0.1', port: 0 },
      database: { path: join(dir, 'hearth.db') },
      logging: { level: process.env.HEARTH_TEST_LOG ?? 'silent' },
      rate_limits: { enabled: false },
      federation: {
        enabled: true, listen: { host: '127.0.0.1', port },
        tls_certificate_path: cert.certPath, tls_private_key_path: cert.keyPath, verify_certificates: false,
      },
      ip_range_whitelist: ['127.0.0.1', '::1'],
    }), { federation: { sender: { initialBackoffMs: 500, maxBackoffMs: 2000 } } });
  }, SYNAPSE_START_TIMEOUT_MS);
  afterAll(async () => {
    await hearth?.stop();
    await synapse?.stop();
    rmSync(dir, { recursive: true, force: true });
    cert.remove();
  });

  for (const version of ['11', '12'] as const) {
    describe(`a room held by Synapse, room version ${version}`, () => {
      it('a Hearth user joins it, messages go both ways, history before the join is backfilled', async () => {
        const alice = await synapseUser('alice');
        const bob = await hearthUser('bob');
        const roomId = await alice.client.createRoom({ preset: 'public_chat', name: `Synapse v${version}`, room_version: version });
        const early = await alice.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'before bob' });
        await bob.sync.until('the first sync', () => true);
        await alice.sync.until('the first sync', () => true);
        expect(await bob.client.join(roomId, [synapse.serverName])).toBe(roomId);
        const name = await bob.client.ok('GET', `${C}/rooms/${enc(roomId)}/state/m.room.name/`);
        expect(name).toEqual({ name: `Synapse v${version}` });
        await alice.sync.until('bob\'s join', (b) => timeline(b, roomId).some(memberIs(bob.userId, 'join')));
        const fromAlice = await alice.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello Hearth' });
        await bob.sync.until('alice\'s message', (b) => timeline(b, roomId).some((e) => e.event_id === fromAlice));
        const fromBob = await bob.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello Synapse' });
        await alice.sync.until('bob\'s message', (b) => timeline(b, roomId).some((e) => e.event_id === fromBob));
        const history = await messagesBack(bob.client, roomId);
        expect(history.map((e) => e.event_id)).toContain(early);
        expect(history[history.length - 1]?.type).toBe('m.room.create');
      });

      it('Synapse invites a Hearth user with a reason; one rejects, one accepts; kicks and bans reach Hearth', async () => {
        const alice = await synapseUser('alice');
        const carol = await hearthUser('carol');
        const dave = await hearthUser('dave');
        const roomId = await alice.client.createRoom({ preset: 'private_chat', name: 'Invite only', room_version: version });
        await alice.sync.until('the first sync', () => true);
        await alice.client.invite(roomId, carol.userId, 'Synapse says hi');
        const invite = await carol.sync.until('the invite', (b) => b.rooms?.invite?.[roomId]);
        const own = (invite.invite_state.events as Ev[]).find(memberIs(carol.userId, 'invite'));
        expect(own?.content.reason).toBe('Synapse says hi');
        expect((invite.invite_state.events as Ev[]).find((e) => e.type === 'm.room.name')?.content.name).toBe('Invite only');
        await carol.client.ok('POST', `${C}/rooms/${enc(roomId)}/leave`, { body: {} });
        await alice.sync.until('carol\'s rejection', (b) => timeline(b, roomId).some(memberIs(carol.userId, 'leave')));
        await alice.client.invite(roomId, dave.userId);
        await dave.sync.until('the invite', (b) => b.rooms?.invite?.[roomId]);
        expect(await dave.client.join(roomId)).toBe(roomId);
        await alice.sync.until('dave\'s join', (b) => timeline(b, roomId).some(memberIs(dave.userId, 'join')));
        await alice.client.ok('POST', `${C}/rooms/${enc(roomId)}/kick`, { body: { user_id: dave.userId, reason: 'bye' } });
        await dave.sync.until('the kick', (b) => b.rooms?.leave?.[roomId]);
        await alice.client.ok('POST', `${C}/rooms/${enc(roomId)}/ban`, { body: { user_id: dave.userId } });
        const again = await dave.client.request('POST', `${C}/join/${enc(roomId)}?via=${enc(synapse.serverName)}`, { body: {} });
        expect({ status: again.status, errcode: (again.body as Ev).errcode }).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
      });
    });

    describe(`a room held by Hearth, room version ${version}`, () => {
      it('a Synapse user joins it, messages go both ways, Synapse backfills history from Hearth', async () => {
        const bob = await hearthUser('bob');
        const alice = await synapseUser('alice');
        const roomId = await bob.client.createRoom({ preset: 'public_chat', name: `Hearth v${version}`, room_version: version });
        const early = await bob.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'before alice' });
        await bob.sync.until('the first sync', () => true);
        await alice.sync.until('the first sync', () => true);
        expect(await alice.client.join(roomId, [hearthName])).toBe(roomId);
        await bob.sync.until('alice\'s join', (b) => timeline(b, roomId).some(memberIs(alice.userId, 'join')));
        const fromBob = await bob.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello Synapse' });
        await alice.sync.until('bob\'s message', (b) => timeline(b, roomId).some((e) => e.event_id === fromBob));
        const fromAlice = await alice.client.send(roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello Hearth' });
        await bob.sync.until('alice\'s message', (b) => timeline(b, roomId).some((e) => e.event_id === fromAlice));
        const history = await messagesBack(alice.client, roomId);
        expect(history.map((e) => e.event_id)).toContain(early);
      });

      it('Hearth invites a Synapse user with a reason (Synapse countersigns); one rejects, one accepts; kicks and bans reach Synapse', async () => {
        const bob = await hearthUser('bob');
        const erin = await synapseUser('erin');
        const frank = await synapseUser('frank');
        const roomId = await bob.client.createRoom({ preset: 'private_chat', name: 'Hearth invite only', room_version: version });
        await bob.sync.until('the first sync', () => true);
        await bob.client.invite(roomId, erin.userId, 'Hearth says hi');
        const invite = await erin.sync.until('the invite', (b) => b.rooms?.invite?.[roomId]);
        expect((invite.invite_state.events as Ev[]).find(memberIs(erin.userId, 'invite'))?.content.reason).toBe('Hearth says hi');
        expect((invite.invite_state.events as Ev[]).find((e) => e.type === 'm.room.name')?.content.name).toBe('Hearth invite only');
        // Hearth's copy of the invite carries Synapse's signature.
        const inviteId = (await hearth.services.storage.rooms.getMembership(roomId, erin.userId))!.eventId;
        expect(Object.keys((await hearth.services.storage.rooms.getEvent(inviteId))!.event.signatures)).toContain(synapse.serverName);
        await erin.client.ok('POST', `${C}/rooms/${enc(roomId)}/leave`, { body: {} });
        await bob.sync.until('erin\'s rejection', (b) => timeline(b, roomId).some(memberIs(erin.userId, 'leave')));
        await bob.client.invite(roomId, frank.userId);
        await frank.sync.until('the invite', (b) => b.rooms?.invite?.[roomId]);
        expect(await frank.client.join(roomId)).toBe(roomId);
        await bob.sync.until('frank\'s join', (b) => timeline(b, roomId).some(memberIs(frank.userId, 'join')));
        await bob.client.ok('POST', `${C}/rooms/${enc(roomId)}/kick`, { body: { user_id: frank.userId, reason: 'bye' } });
        await frank.sync.until('the kick', (b) => b.rooms?.leave?.[roomId]);
        await bob.client.ok('POST', `${C}/rooms/${enc(roomId)}/ban`, { body: { user_id: frank.userId } });
        // Synapse treats room IDs as opaque: the server to ask is given; Hearth's make_join refuses.
        const again = await frank.client.request('POST', `${C}/join/${enc(roomId)}?via=${enc(hearthName)}`, { body: {} });
        expect({ status: again.status, errcode: (again.body as Ev).errcode }).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
      });
    });
  }
});
