// Room membership over HTTP (matrix-spec: joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml,
// banning.yaml, knocking.yaml; rooms/v11 auth rules 4.x): join, invite (with reasons, limits and rate
// limits), leave / reject, kick, ban, unban, forget, join by alias, knock.
import type { StoredEvent } from '../../../src/core/events/types.js';
import { bearer, makeTestServer, type TestServer, type TestUser, expectError } from '../../helpers/server.js';

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

function helpers(s: TestServer) {
  const post = (u: { accessToken: string }, path: string, body: object = {}) => s.http.post(`${C}${path}`).set(bearer(u)).send(body);
  return {
    post,
    // Kick and ban rules with the creator at 100 in power_levels (room version 11; in 12 the
    // creator is above every level and not listed: test/core/auth-rules-v12.test.ts).
    async createRoom(u: TestUser, body: object = {}): Promise<string> {
      const res = await post(u, '/createRoom', { room_version: '11', ...body });
      expect(res.status).toBe(200);
      return res.body.room_id as string;
    },
    join: (u: { accessToken: string }, roomId: string, body: object = {}) => post(u, `/rooms/${enc(roomId)}/join`, body),
    invite: (u: TestUser, roomId: string, target: string, extra: object = {}) => post(u, `/rooms/${enc(roomId)}/invite`, { user_id: target, ...extra }),
    leave: (u: TestUser, roomId: string, body: object = {}) => post(u, `/rooms/${enc(roomId)}/leave`, body),
    kick: (u: TestUser, roomId: string, target: string, extra: object = {}) => post(u, `/rooms/${enc(roomId)}/kick`, { user_id: target, ...extra }),
    ban: (u: TestUser, roomId: string, target: string, extra: object = {}) => post(u, `/rooms/${enc(roomId)}/ban`, { user_id: target, ...extra }),
    unban: (u: TestUser, roomId: string, target: string, extra: object = {}) => post(u, `/rooms/${enc(roomId)}/unban`, { user_id: target, ...extra }),
    forget: (u: TestUser, roomId: string) => post(u, `/rooms/${enc(roomId)}/forget`),
    /** The user's current m.room.member event, as stored. */
    async member(roomId: string, userId: string): Promise<StoredEvent> {
      const m = await s.services.storage.rooms.getMembership(roomId, userId);
      expect(m).toBeDefined();
      const rec = await s.services.storage.rooms.getEvent(m!.eventId);
      return rec!.event;
    },
    async membership(roomId: string, userId: string): Promise<string | undefined> {
      return (await s.services.storage.rooms.getMembership(roomId, userId))?.membership;
    },
    async eventCount(roomId: string): Promise<number> {
      return (await s.services.storage.rooms.getRoomEvents({ roomId, from: 0, dir: 'f', limit: 10000 })).length;
    },
  };
}

describe('room membership', () => {
  const s = makeTestServer();
  const h = helpers(s);
  afterAll(() => s.close());

  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  beforeAll(async () => {
    alice = await s.register('alice');
    bob = await s.register('bob');
    carol = await s.register('carol');
    dave = await s.register('dave');
  });

  describe('POST /rooms/:roomId/join', () => {
    it('joins a public room and answers its room_id; the membership is stored', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      const res = await h.join(bob, roomId);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: roomId });
      const ev = await h.member(roomId, bob.userId);
      expect(ev.sender).toBe(bob.userId);
      expect(ev.content.membership).toBe('join');
      expect(ev.content).not.toHaveProperty('reason');
    });

    it('stores the reason in the m.room.member content', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      const res = await h.join(bob, roomId, { reason: 'Looking for support' });
      expect(res.status).toBe(200);
      expect((await h.member(roomId, bob.userId)).content).toEqual(expect.objectContaining({ membership: 'join', reason: 'Looking for support' }));
    });

    it('joining again while joined changes nothing', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      const n = await h.eventCount(roomId);
      const again = await h.join(bob, roomId);
      expect(again.status).toBe(200);
      expect(await h.eventCount(roomId)).toBe(n);
    });

    it('refuses an invite-only room without an invite: 403 M_FORBIDDEN, nothing stored', async () => {
      const roomId = await h.createRoom(alice, { preset: 'private_chat' });
      const n = await h.eventCount(roomId);
      expectError(await h.join(bob, roomId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, bob.userId)).toBeUndefined();
      expect(await h.eventCount(roomId)).toBe(n);
    });

    it('refuses an unknown room: 404 M_NOT_FOUND', async () => {
      expectError(await h.join(bob, '!unknown:test.local'), 404, 'M_NOT_FOUND');
    });

    it('refuses a reason longer than invite_reason_max_length: 400 M_BAD_JSON', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.join(bob, roomId, { reason: 'x'.repeat(513) }), 400, 'M_BAD_JSON');
      expect(await h.membership(roomId, bob.userId)).toBeUndefined();
    });

    it('refuses a reason that is not a string: 400 M_BAD_JSON', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.join(bob, roomId, { reason: 42 }), 400, 'M_BAD_JSON');
    });

    it('rejoins a public room after leaving', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect((await h.leave(bob, roomId)).status).toBe(200);
      expect(await h.membership(roomId, bob.userId)).toBe('leave');
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect(await h.membership(roomId, bob.userId)).toBe('join');
    });

    it('cannot rejoin an invite-only room after leaving without a new invite', async () => {
      const roomId = await h.createRoom(alice, { invite: [bob.userId] });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect((await h.leave(bob, roomId)).status).toBe(200);
      expectError(await h.join(bob, roomId), 403, 'M_FORBIDDEN');
    });
  });

  describe('guests', () => {
    let guest: { accessToken: string; userId: string };
    beforeAll(async () => {
      const g = await s.http.post(`${C}/register?kind=guest`).send({});
      expect(g.status).toBe(200);
      guest = { accessToken: g.body.access_token, userId: g.body.user_id };
    });

    it('may not join a public_chat room (guest_access forbidden): 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.join(guest, roomId), 403, 'M_GUEST_ACCESS_FORBIDDEN');
    });

    it('may join a public room whose guest_access is can_join', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat', initial_state: [{ type: 'm.room.guest_access', content: { guest_access: 'can_join' } }] });
      const res = await h.join(guest, roomId);
      expect(res.status).toBe(200);
      expect(await h.membership(roomId, guest.userId)).toBe('join');
    });

    it('may not join through the state endpoint where guests are forbidden: 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(guest.userId)}`).set(bearer(guest)).send({ membership: 'join' });
      expectError(res, 403, 'M_GUEST_ACCESS_FORBIDDEN');
      expect(await h.membership(roomId, guest.userId)).toBeUndefined();
    });

    it('may not invite: 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      const res = await s.http.post(`${C}/rooms/${enc(roomId)}/invite`).set(bearer(guest)).send({ user_id: bob.userId });
      expectError(res, 403, 'M_GUEST_ACCESS_FORBIDDEN');
    });
  });

  describe('POST /join/:roomIdOrAlias', () => {
    it('joins by alias and answers the room ID', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat', room_alias_name: 'joinme' });
      const res = await h.post(bob, `/join/${enc('#joinme:test.local')}`, { reason: 'by alias' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: roomId });
      expect((await h.member(roomId, bob.userId)).content).toEqual(expect.objectContaining({ membership: 'join', reason: 'by alias' }));
    });

    it('joins by room ID', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      const res = await h.post(bob, `/join/${enc(roomId)}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: roomId });
      expect(await h.membership(roomId, bob.userId)).toBe('join');
    });

    it('applies the join rules: invite-only by alias without an invite is 403 M_FORBIDDEN', async () => {
      await h.createRoom(alice, { preset: 'private_chat', room_alias_name: 'closed' });
      expectError(await h.post(bob, `/join/${enc('#closed:test.local')}`), 403, 'M_FORBIDDEN');
    });

    it('an unknown alias is 404 M_NOT_FOUND', async () => {
      expectError(await h.post(bob, `/join/${enc('#nowhere:test.local')}`), 404, 'M_NOT_FOUND');
    });

    it('something neither a room ID nor an alias is 400 M_INVALID_PARAM', async () => {
      expectError(await h.post(bob, `/join/${enc('@alice:test.local')}`), 400, 'M_INVALID_PARAM');
    });
  });

  describe('POST /knock/:roomIdOrAlias', () => {
    it('refuses a knock on a room whose join rule is invite with 403 M_FORBIDDEN (more in knock.test.ts)', async () => {
      const roomId = await h.createRoom(alice, { preset: 'private_chat' });
      expectError(await h.post(bob, `/knock/${enc(roomId)}`, { reason: 'let me in' }), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, bob.userId)).toBeUndefined();
    });
  });

  describe('POST /rooms/:roomId/invite', () => {
    it('invites with a reason: the reason is stored in the invite event, sent by the inviter', async () => {
      const roomId = await h.createRoom(alice);
      const res = await h.invite(alice, roomId, bob.userId, { reason: 'Welcome to the team!' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const ev = await h.member(roomId, bob.userId);
      expect(ev.sender).toBe(alice.userId);
      expect(ev.state_key).toBe(bob.userId);
      expect(ev.content).toEqual(expect.objectContaining({ membership: 'invite', reason: 'Welcome to the team!' }));
      // The invitee can join the invite-only room now.
      expect((await h.join(bob, roomId)).status).toBe(200);
    });

    it('accepts a reason of exactly invite_reason_max_length characters (counted as code points)', async () => {
      const roomId = await h.createRoom(alice);
      const reason = '😀'.repeat(512); // 512 characters, 1024 UTF-16 code units
      const res = await h.invite(alice, roomId, bob.userId, { reason });
      expect(res.status).toBe(200);
      expect((await h.member(roomId, bob.userId)).content.reason).toBe(reason);
    });

    it('refuses a reason over invite_reason_max_length: 400 M_BAD_JSON, no invite', async () => {
      const roomId = await h.createRoom(alice);
      expectError(await h.invite(alice, roomId, bob.userId, { reason: 'r'.repeat(513) }), 400, 'M_BAD_JSON');
      expect(await h.membership(roomId, bob.userId)).toBeUndefined();
    });

    it('refuses inviting a member of the room: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expectError(await h.invite(alice, roomId, bob.userId), 403, 'M_FORBIDDEN');
    });

    it('refuses a self-invite: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice);
      expectError(await h.invite(alice, roomId, alice.userId), 403, 'M_FORBIDDEN');
    });

    it('refuses invites by non-members: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.invite(bob, roomId, carol.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, carol.userId)).toBeUndefined();
    });

    it('refuses invites by invited (not joined) users: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { invite: [bob.userId] });
      expectError(await h.invite(bob, roomId, carol.userId), 403, 'M_FORBIDDEN');
    });

    it('refuses invites below the invite level: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' }); // invite level 50
      expect((await h.join(bob, roomId)).status).toBe(200);
      expectError(await h.invite(bob, roomId, carol.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, carol.userId)).toBeUndefined();
    });

    it('refuses inviting a banned user: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice);
      expect((await h.ban(alice, roomId, carol.userId)).status).toBe(200);
      expectError(await h.invite(alice, roomId, carol.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, carol.userId)).toBe('ban');
    });

    it('an unknown local user is 404 M_NOT_FOUND', async () => {
      const roomId = await h.createRoom(alice);
      expectError(await h.invite(alice, roomId, '@ghost:test.local'), 404, 'M_NOT_FOUND');
    });

    it('a malformed user ID is 400 M_INVALID_PARAM', async () => {
      const roomId = await h.createRoom(alice);
      expectError(await h.invite(alice, roomId, 'bob'), 400, 'M_INVALID_PARAM');
    });

    it('a missing user_id is 400 M_MISSING_PARAM', async () => {
      const roomId = await h.createRoom(alice);
      expectError(await h.post(alice, `/rooms/${enc(roomId)}/invite`, { reason: 'x' }), 400, 'M_MISSING_PARAM');
    });

    it('an unknown room is 404 M_NOT_FOUND', async () => {
      expectError(await h.invite(alice, '!nope:test.local', bob.userId), 404, 'M_NOT_FOUND');
    });

    it('inviting someone already invited answers 200 (inviting.yaml: "or was already invited")', async () => {
      const roomId = await h.createRoom(alice, { invite: [bob.userId] });
      const res = await h.invite(alice, roomId, bob.userId, { reason: 'again' });
      expect(res.status).toBe(200);
      expect(await h.membership(roomId, bob.userId)).toBe('invite');
    });
  });

  describe('POST /rooms/:roomId/leave', () => {
    it('rejects an invite (leave while invited) with a reason', async () => {
      const roomId = await h.createRoom(alice, { invite: [bob.userId] });
      const res = await h.leave(bob, roomId, { reason: 'not interested' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const ev = await h.member(roomId, bob.userId);
      expect(ev.sender).toBe(bob.userId);
      expect(ev.content).toEqual(expect.objectContaining({ membership: 'leave', reason: 'not interested' }));
      // The rejected invite no longer lets bob in.
      expectError(await h.join(bob, roomId), 403, 'M_FORBIDDEN');
    });

    it('leaves a joined room with a reason', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      const res = await h.leave(bob, roomId, { reason: 'Saying farewell' });
      expect(res.status).toBe(200);
      expect((await h.member(roomId, bob.userId)).content).toEqual(expect.objectContaining({ membership: 'leave', reason: 'Saying farewell' }));
      // A user who left can no longer send.
      const send = await s.http.put(`${C}/rooms/${enc(roomId)}/send/m.room.message/after-leave`).set(bearer(bob)).send({ body: 'x' });
      expectError(send, 403, 'M_FORBIDDEN');
    });

    it('refuses a room the user was never in: 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.leave(bob, roomId), 403, 'M_FORBIDDEN');
    });

    it('refuses an unknown room: 404 M_NOT_FOUND', async () => {
      expectError(await h.leave(bob, '!unknown:test.local'), 404, 'M_NOT_FOUND');
    });

    it('a banned user cannot leave (and so cannot undo the ban): 403 M_FORBIDDEN', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect((await h.ban(alice, roomId, bob.userId)).status).toBe(200);
      expectError(await h.leave(bob, roomId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, bob.userId)).toBe('ban');
    });

    it('refuses a reason over the limit: 400 M_BAD_JSON', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expectError(await h.leave(bob, roomId, { reason: 'z'.repeat(600) }), 400, 'M_BAD_JSON');
      expect(await h.membership(roomId, bob.userId)).toBe('join');
    });
  });

  describe('POST /rooms/:roomId/kick', () => {
    let roomId: string;
    beforeEach(async () => {
      // alice 100, carol 50 (moderator), bob and dave 0.
      roomId = await h.createRoom(alice, {
        preset: 'public_chat',
        power_level_content_override: { users: { [alice.userId]: 100, [carol.userId]: 50 } },
      });
      for (const u of [bob, carol, dave]) expect((await h.join(u, roomId)).status).toBe(200);
    });

    it('kicks with a reason: the target\'s membership becomes leave, sent by the kicker', async () => {
      const res = await h.kick(alice, roomId, bob.userId, { reason: 'Telling unfunny jokes' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const ev = await h.member(roomId, bob.userId);
      expect(ev.sender).toBe(alice.userId);
      expect(ev.content).toEqual(expect.objectContaining({ membership: 'leave', reason: 'Telling unfunny jokes' }));
      // Kicked from a public room: may join again.
      expect((await h.join(bob, roomId)).status).toBe(200);
    });

    it('a moderator at the kick level kicks a user below it', async () => {
      expect((await h.kick(carol, roomId, bob.userId)).status).toBe(200);
      expect(await h.membership(roomId, bob.userId)).toBe('leave');
    });

    it('refuses a kicker below the kick level: 403 M_FORBIDDEN', async () => {
      expectError(await h.kick(bob, roomId, dave.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, dave.userId)).toBe('join');
    });

    it('refuses kicking a user of higher power: 403 M_FORBIDDEN', async () => {
      expectError(await h.kick(carol, roomId, alice.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, alice.userId)).toBe('join');
    });

    it('refuses kicking a user of equal power (the kicker must outrank): 403 M_FORBIDDEN', async () => {
      const pl = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.power_levels`).set(bearer(alice)).send({
        users: { [alice.userId]: 100, [carol.userId]: 50, [dave.userId]: 50 }, kick: 50, ban: 50, state_default: 50, events_default: 0, invite: 50, redact: 50, users_default: 0,
      });
      expect(pl.status).toBe(200);
      expectError(await h.kick(carol, roomId, dave.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, dave.userId)).toBe('join');
    });

    it('refuses kicking someone not in the room: 403 M_FORBIDDEN', async () => {
      const other = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.kick(alice, other, bob.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(other, bob.userId)).toBeUndefined();
    });

    it('refuses a kicker who is not in the room: 403 M_FORBIDDEN', async () => {
      const other = await h.createRoom(carol, { preset: 'public_chat' });
      expect((await h.join(bob, other)).status).toBe(200);
      expectError(await h.kick(alice, other, bob.userId), 403, 'M_FORBIDDEN');
    });

    it('kicks an invited user (revoking the invite)', async () => {
      const other = await h.createRoom(alice, { invite: [dave.userId] });
      expect((await h.kick(alice, other, dave.userId, { reason: 'sent by mistake' })).status).toBe(200);
      expect((await h.member(other, dave.userId)).content).toEqual(expect.objectContaining({ membership: 'leave', reason: 'sent by mistake' }));
      expectError(await h.join(dave, other), 403, 'M_FORBIDDEN');
    });

    it('refuses a reason over the limit: 400 M_BAD_JSON', async () => {
      expectError(await h.kick(alice, roomId, bob.userId, { reason: 'k'.repeat(513) }), 400, 'M_BAD_JSON');
      expect(await h.membership(roomId, bob.userId)).toBe('join');
    });

    it('a missing user_id is 400 M_MISSING_PARAM', async () => {
      expectError(await h.post(alice, `/rooms/${enc(roomId)}/kick`, {}), 400, 'M_MISSING_PARAM');
    });
  });

  describe('POST /rooms/:roomId/ban and /unban', () => {
    let roomId: string;
    beforeEach(async () => {
      roomId = await h.createRoom(alice, {
        preset: 'public_chat',
        power_level_content_override: { users: { [alice.userId]: 100, [carol.userId]: 50 } },
      });
      for (const u of [bob, carol]) expect((await h.join(u, roomId)).status).toBe(200);
    });

    it('bans with a reason; the banned user cannot rejoin or be invited', async () => {
      const res = await h.ban(alice, roomId, bob.userId, { reason: 'Spamming' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const ev = await h.member(roomId, bob.userId);
      expect(ev.sender).toBe(alice.userId);
      expect(ev.content).toEqual(expect.objectContaining({ membership: 'ban', reason: 'Spamming' }));
      expectError(await h.join(bob, roomId), 403, 'M_FORBIDDEN');
      expectError(await h.post(bob, `/join/${enc(roomId)}`), 403, 'M_FORBIDDEN');
      expectError(await h.invite(alice, roomId, bob.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, bob.userId)).toBe('ban');
    });

    it('bans a user who never joined, pre-emptively', async () => {
      expect((await h.ban(alice, roomId, dave.userId, { reason: 'known spammer' })).status).toBe(200);
      expect(await h.membership(roomId, dave.userId)).toBe('ban');
      expectError(await h.join(dave, roomId), 403, 'M_FORBIDDEN');
    });

    it('refuses a banner below the ban level: 403 M_FORBIDDEN', async () => {
      expectError(await h.ban(bob, roomId, carol.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, carol.userId)).toBe('join');
    });

    it('refuses banning a user of higher power: 403 M_FORBIDDEN', async () => {
      expectError(await h.ban(carol, roomId, alice.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, alice.userId)).toBe('join');
    });

    it('refuses a banner who is not in the room: 403 M_FORBIDDEN', async () => {
      expect((await h.leave(carol, roomId)).status).toBe(200);
      expectError(await h.ban(carol, roomId, bob.userId), 403, 'M_FORBIDDEN');
    });

    it('unbans with a reason: membership leave, and the user may join again', async () => {
      expect((await h.ban(alice, roomId, bob.userId)).status).toBe(200);
      const res = await h.unban(alice, roomId, bob.userId, { reason: 'Served their time' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const ev = await h.member(roomId, bob.userId);
      expect(ev.content).toEqual(expect.objectContaining({ membership: 'leave', reason: 'Served their time' }));
      expect((await h.join(bob, roomId)).status).toBe(200);
    });

    it('refuses an unbanner below the ban level: 403 M_FORBIDDEN', async () => {
      expect((await h.ban(alice, roomId, dave.userId)).status).toBe(200);
      expectError(await h.unban(bob, roomId, dave.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, dave.userId)).toBe('ban');
    });

    it('refuses unbanning a user who is not banned: 403 M_FORBIDDEN', async () => {
      expectError(await h.unban(alice, roomId, bob.userId), 403, 'M_FORBIDDEN');
      expect(await h.membership(roomId, bob.userId)).toBe('join');
    });

    it('refuses a ban reason over the limit: 400 M_BAD_JSON', async () => {
      expectError(await h.ban(alice, roomId, bob.userId, { reason: 'b'.repeat(513) }), 400, 'M_BAD_JSON');
      expect(await h.membership(roomId, bob.userId)).toBe('join');
    });

    it('refuses a malformed user_id: 400 M_INVALID_PARAM', async () => {
      expectError(await h.ban(alice, roomId, 'not-a-user'), 400, 'M_INVALID_PARAM');
    });
  });

  describe('POST /rooms/:roomId/forget', () => {
    it('forgets a room after leaving it', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect((await h.leave(bob, roomId)).status).toBe(200);
      const res = await h.forget(bob, roomId);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      expect(await s.services.storage.rooms.isForgotten(roomId, bob.userId)).toBe(true);
    });

    it('forgets a room after being banned from it', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect((await h.ban(alice, roomId, bob.userId)).status).toBe(200);
      expect((await h.forget(bob, roomId)).status).toBe(200);
      expect(await s.services.storage.rooms.isForgotten(roomId, bob.userId)).toBe(true);
    });

    it('refuses while joined: 400 M_UNKNOWN (leaving.yaml), nothing forgotten', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expectError(await h.forget(bob, roomId), 400, 'M_UNKNOWN');
      expect(await s.services.storage.rooms.isForgotten(roomId, bob.userId)).toBe(false);
    });

    it('refuses while invited: 400 M_UNKNOWN', async () => {
      const roomId = await h.createRoom(alice, { invite: [bob.userId] });
      expectError(await h.forget(bob, roomId), 400, 'M_UNKNOWN');
    });

    it('a room the user was never in is 404 M_NOT_FOUND', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expectError(await h.forget(bob, roomId), 404, 'M_NOT_FOUND');
    });

    it('rejoining after forgetting makes the room remembered again', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect((await h.leave(bob, roomId)).status).toBe(200);
      expect((await h.forget(bob, roomId)).status).toBe(200);
      expect((await h.join(bob, roomId)).status).toBe(200);
      expect(await s.services.storage.rooms.isForgotten(roomId, bob.userId)).toBe(false);
    });
  });

  describe('PUT /rooms/:roomId/state/m.room.member/:userId', () => {
    it('an invite through the state endpoint gets the same checks: unknown user 404 M_NOT_FOUND', async () => {
      const roomId = await h.createRoom(alice);
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc('@ghost:test.local')}`).set(bearer(alice)).send({ membership: 'invite' });
      expectError(res, 404, 'M_NOT_FOUND');
    });

    it('an invite through the state endpoint is limited in reason length: 400 M_BAD_JSON', async () => {
      const roomId = await h.createRoom(alice);
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`).set(bearer(alice)).send({ membership: 'invite', reason: 'q'.repeat(513) });
      expectError(res, 400, 'M_BAD_JSON');
      expect(await h.membership(roomId, bob.userId)).toBeUndefined();
    });

    it('a kick through the state endpoint with a reason is stored like /kick', async () => {
      const roomId = await h.createRoom(alice, { preset: 'public_chat' });
      expect((await h.join(bob, roomId)).status).toBe(200);
      const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`).set(bearer(alice)).send({ membership: 'leave', reason: 'state kick' });
      expect(res.status).toBe(200);
      expect((await h.member(roomId, bob.userId)).content).toEqual({ membership: 'leave', reason: 'state kick' });
    });
  });
});

describe('invite rate limits', () => {
  const generous = { per_second: 1000, burst: 1000 };
  const s = makeTestServer({
    rate_limits: {
      enabled: true,
      registration: generous,
      login: generous,
      message: generous,
      invite: { per_second: 0.01, burst: 2 },
      invite_per_invitee: { per_second: 0.01, burst: 2 },
    },
  });
  const h = helpers(s);
  afterAll(() => s.close());

  let users: TestUser[];
  beforeAll(async () => {
    users = [];
    for (let i = 0; i < 8; i++) users.push(await s.register(`rl${i}`));
  });

  it('limits invites per inviter: the third in a burst is 429 M_LIMIT_EXCEEDED with retry_after_ms, and sends nothing', async () => {
    const [inviter, a, b, c] = users as [TestUser, TestUser, TestUser, TestUser];
    const roomId = await h.createRoom(inviter);
    expect((await h.invite(inviter, roomId, a.userId)).status).toBe(200);
    expect((await h.invite(inviter, roomId, b.userId)).status).toBe(200);
    const n = await h.eventCount(roomId);
    const third = await h.invite(inviter, roomId, c.userId, { reason: 'spam' });
    expectError(third, 429, 'M_LIMIT_EXCEEDED');
    expect(third.body.retry_after_ms).toBeGreaterThan(0);
    expect(await h.membership(roomId, c.userId)).toBeUndefined();
    expect(await h.eventCount(roomId)).toBe(n);
    // Once the bucket has drained (0.01/s: 100 s per invite), the inviter may invite again.
    s.clock.advance(third.body.retry_after_ms as number);
    expect((await h.invite(inviter, roomId, c.userId)).status).toBe(200);
  });

  it('limits invites per invitee across inviters: the third invite to one user is 429 M_LIMIT_EXCEEDED', async () => {
    const [, , , , i1, i2, i3, target] = users as TestUser[];
    const rooms = [];
    for (const u of [i1!, i2!, i3!]) rooms.push(await h.createRoom(u));
    expect((await h.invite(i1!, rooms[0]!, target!.userId, { reason: 'one' })).status).toBe(200);
    expect((await h.invite(i2!, rooms[1]!, target!.userId, { reason: 'two' })).status).toBe(200);
    // i3 has sent no invite yet: the limit is the invitee's.
    expectError(await h.invite(i3!, rooms[2]!, target!.userId, { reason: 'three' }), 429, 'M_LIMIT_EXCEEDED');
    expect(await h.membership(rooms[2]!, target!.userId)).toBeUndefined();
  });

  it('counts invites sent with createRoom and through the state endpoint', async () => {
    const [inviter, a, b, c] = users as [TestUser, TestUser, TestUser, TestUser];
    s.clock.advance(1_000_000); // drain every bucket
    // createRoom with two invitees uses the inviter's burst ...
    const roomId = await h.createRoom(inviter, { invite: [a.userId, b.userId] });
    // ... so a third invite through the state endpoint is refused.
    const res = await s.http.put(`${C}/rooms/${enc(roomId)}/state/m.room.member/${enc(c.userId)}`).set(bearer(inviter)).send({ membership: 'invite' });
    expectError(res, 429, 'M_LIMIT_EXCEEDED');
    // And a createRoom inviting over the limit creates no room.
    const before = (await s.services.storage.rooms.getRoomsForUser(inviter.userId, ['join'])).length;
    expectError(await h.post(inviter, '/createRoom', { invite: [c.userId] }), 429, 'M_LIMIT_EXCEEDED');
    expect((await s.services.storage.rooms.getRoomsForUser(inviter.userId, ['join'])).length).toBe(before);
  });
});
