// Federation when things go wrong (issue 16): a server stopped while the other sends gets everything
// once it is back, nothing twice; a PDU with a forged signature is refused and not stored; a request
// for another destination is refused.
import { hashSignAndIdentify } from '../../src/core/crypto/event-hashing.js';
import { SigningKey } from '../../src/core/crypto/signing.js';
import { ROOM_VERSIONS } from '../../src/core/room-versions.js';
import { startHearths, syncUntil, type FedHearth, type FedUser, type HearthCluster } from '../helpers/hearths.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
type SyncUser = FedUser & { since?: string };

describe('federation when a server goes away, and forged events', () => {
  let cluster: HearthCluster;
  let hs1: FedHearth;
  let hs2: FedHearth;
  let alice: SyncUser;
  let bob: SyncUser;
  let roomId: string;

  beforeAll(async () => {
    cluster = await startHearths(2);
    [hs1, hs2] = cluster.servers as [FedHearth, FedHearth];
    alice = await hs1.register('alice');
    bob = await hs2.register('bob');
    const created = await alice.call('POST', `${C}/createRoom`, { preset: 'public_chat' });
    roomId = created.body.room_id;
    expect((await bob.call('POST', `${C}/join/${enc(roomId)}?via=${enc(hs1.name)}`, {})).status).toBe(200);
    await syncUntil(bob, 'the room', (b) => b.rooms?.join?.[roomId]);
  }, 60_000);
  afterAll(async () => cluster?.close());

  it('hs2 stopped while alice sends: after its restart bob gets every message once, in order', async () => {
    await hs2.stop();
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await alice.call('PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/down${i}`, { msgtype: 'm.text', body: `while down ${i}` });
      expect(r.status).toBe(200);
      sent.push(r.body.event_id);
    }
    // Give the queue time to fail and back off at least once.
    await new Promise((r) => setTimeout(r, 600));
    await hs2.restart();
    const got: string[] = [];
    await syncUntil(bob, 'the five messages', (b) => {
      for (const e of b.rooms?.join?.[roomId]?.timeline?.events ?? []) if (e.type === 'm.room.message') got.push(e.event_id);
      return got.length >= 5;
    }, 20_000);
    expect(got).toEqual(sent);
    // Nothing twice: a little later, nothing more arrives and each is stored once.
    await new Promise((r) => setTimeout(r, 1500));
    const again = await bob.call('GET', `${C}/sync?since=${enc(bob.since!)}&timeout=0`);
    expect(again.body.rooms?.join?.[roomId]?.timeline?.events ?? []).toEqual([]);
    const page = await bob.call('GET', `${C}/rooms/${enc(roomId)}/messages?dir=b&limit=20`);
    const ids = (page.body.chunk as { event_id: string }[]).map((e) => e.event_id);
    for (const id of sent) expect(ids.filter((x) => x === id)).toHaveLength(1);
  }, 60_000);

  it('a PDU signed with another key than its server\'s is refused in the transaction answer and never stored', async () => {
    const room = (await hs1.running.services.roomState.get(roomId))!;
    const state = [...room.state.values()];
    const id = (type: string, key: string) => state.find((e) => e.type === type && e.state_key === key)!.event_id;
    const forged = hashSignAndIdentify({
      room_id: roomId, sender: bob.userId, type: 'm.room.message', content: { msgtype: 'm.text', body: 'forged' },
      origin_server_ts: Date.now(), prev_events: room.extremities.map((x) => x.eventId),
      auth_events: [id('m.room.create', ''), id('m.room.power_levels', ''), id('m.room.member', bob.userId)], depth: room.depth + 1,
    }, hs2.name, SigningKey.generate(), ROOM_VERSIONS['11']);
    const answer = await hs2.running.services.federation.client.request<{ pdus: Record<string, { error?: string }> }>({
      destination: hs1.name, method: 'PUT', path: `/_matrix/federation/v1/send/forged-${Date.now()}`,
      body: { origin: hs2.name, origin_server_ts: Date.now(), pdus: [forged.pdu] },
    });
    expect(answer.pdus[forged.eventId]?.error).toBeDefined();
    expect(await hs1.running.services.storage.rooms.getEvent(forged.eventId)).toBeUndefined();
  });
});
