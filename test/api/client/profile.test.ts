// Profiles (matrix-spec: profile.yaml#getUserProfile, #getProfileField, #setProfileField, #deleteProfileField).
import { makeTestServer, bearer } from '../../helpers/server.js';

const profile = (userId: string, key?: string) =>
  `/_matrix/client/v3/profile/${encodeURIComponent(userId)}${key !== undefined ? `/${encodeURIComponent(key)}` : ''}`;
const tok = (accessToken: string) => bearer({ accessToken });

describe('profiles', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  describe('GET /profile/{userId}', () => {
    it('starts with the localpart as display name', async () => {
      const u = await s.register('fresh');
      const res = await s.http.get(profile(u.userId));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ displayname: 'fresh' });
    });

    it('needs no access token, and gives the same answer with one', async () => {
      const u = await s.register('public');
      const viewer = await s.register('viewer');
      const anon = await s.http.get(profile(u.userId));
      const authed = await s.http.get(profile(u.userId)).set(bearer(viewer));
      expect(anon.status).toBe(200);
      expect(authed.status).toBe(200);
      expect(authed.body).toEqual(anon.body);
    });

    it('answers an unknown local user with 404 M_NOT_FOUND', async () => {
      const res = await s.http.get(profile('@nobody:test.local'));
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    });

    it('answers a user of another server with 404 M_NOT_FOUND when federation is disabled', async () => {
      const res = await s.http.get(profile('@someone:elsewhere.example'));
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    });
  });

  describe('displayname', () => {
    it('sets, reads and shows the display name in the full profile', async () => {
      const u = await s.register('dn');
      const put = await s.http.put(profile(u.userId, 'displayname')).set(bearer(u)).send({ displayname: 'Alice Liddell' });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({});
      const get = await s.http.get(profile(u.userId, 'displayname'));
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ displayname: 'Alice Liddell' });
      const all = await s.http.get(profile(u.userId));
      expect(all.body).toEqual({ displayname: 'Alice Liddell' });
    });

    it('deletes the display name: the field is then 404 M_NOT_FOUND and gone from the profile', async () => {
      const u = await s.register('dndel');
      const del = await s.http.delete(profile(u.userId, 'displayname')).set(bearer(u));
      expect(del.status).toBe(200);
      expect(del.body).toEqual({});
      const get = await s.http.get(profile(u.userId, 'displayname'));
      expect(get.status).toBe(404);
      expect(get.body.errcode).toBe('M_NOT_FOUND');
      const all = await s.http.get(profile(u.userId));
      expect(all.status).toBe(200);
      expect(all.body).toEqual({});
    });

    it('answers 200 when deleting a field that is not set', async () => {
      const u = await s.register('dndel2');
      const del = await s.http.delete(profile(u.userId, 'avatar_url')).set(bearer(u));
      expect(del.status).toBe(200);
    });

    it('refuses to change another user\'s display name with 403 M_FORBIDDEN', async () => {
      const owner = await s.register('owner');
      const intruder = await s.register('intruder');
      const put = await s.http.put(profile(owner.userId, 'displayname')).set(bearer(intruder)).send({ displayname: 'Pwned' });
      expect(put.status).toBe(403);
      expect(put.body.errcode).toBe('M_FORBIDDEN');
      const get = await s.http.get(profile(owner.userId, 'displayname'));
      expect(get.body).toEqual({ displayname: 'owner' });
    });

    it('refuses to delete another user\'s display name with 403 M_FORBIDDEN', async () => {
      const owner = await s.register('owner2');
      const intruder = await s.register('intruder2');
      const del = await s.http.delete(profile(owner.userId, 'displayname')).set(bearer(intruder));
      expect(del.status).toBe(403);
      expect(del.body.errcode).toBe('M_FORBIDDEN');
      const get = await s.http.get(profile(owner.userId, 'displayname'));
      expect(get.body).toEqual({ displayname: 'owner2' });
    });

    it('refuses to set a profile field of an unknown user with 403 M_FORBIDDEN', async () => {
      const u = await s.register('ghostwriter');
      const put = await s.http.put(profile('@ghost:test.local', 'displayname')).set(bearer(u)).send({ displayname: 'Ghost' });
      expect(put.status).toBe(403);
      expect(put.body.errcode).toBe('M_FORBIDDEN');
    });

    it('refuses a display name that is not a string with 400 M_BAD_JSON', async () => {
      const u = await s.register('dntype');
      const put = await s.http.put(profile(u.userId, 'displayname')).set(bearer(u)).send({ displayname: 42 });
      expect(put.status).toBe(400);
      expect(put.body.errcode).toBe('M_BAD_JSON');
    });

    it('refuses a body without the keyName property with 400 M_MISSING_PARAM', async () => {
      const u = await s.register('dnmissing');
      const put = await s.http.put(profile(u.userId, 'displayname')).set(bearer(u)).send({ avatar_url: 'mxc://test.local/x' });
      expect(put.status).toBe(400);
      expect(put.body.errcode).toBe('M_MISSING_PARAM');
    });

    it('refuses to change a profile without a token with 401 M_MISSING_TOKEN', async () => {
      const u = await s.register('dnnotoken');
      const put = await s.http.put(profile(u.userId, 'displayname')).send({ displayname: 'x' });
      expect(put.status).toBe(401);
      expect(put.body.errcode).toBe('M_MISSING_TOKEN');
      const del = await s.http.delete(profile(u.userId, 'displayname'));
      expect(del.status).toBe(401);
      expect(del.body.errcode).toBe('M_MISSING_TOKEN');
    });

    it('answers a field of an unknown user with 404 M_NOT_FOUND', async () => {
      const res = await s.http.get(profile('@nobody:test.local', 'displayname'));
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    });
  });

  describe('avatar_url', () => {
    it('sets, reads and deletes the avatar URL', async () => {
      const u = await s.register('av');
      const put = await s.http.put(profile(u.userId, 'avatar_url')).set(bearer(u)).send({ avatar_url: 'mxc://test.local/abc123' });
      expect(put.status).toBe(200);
      const get = await s.http.get(profile(u.userId, 'avatar_url'));
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ avatar_url: 'mxc://test.local/abc123' });
      const all = await s.http.get(profile(u.userId));
      expect(all.body).toEqual({ displayname: 'av', avatar_url: 'mxc://test.local/abc123' });
      const del = await s.http.delete(profile(u.userId, 'avatar_url')).set(bearer(u));
      expect(del.status).toBe(200);
      const gone = await s.http.get(profile(u.userId, 'avatar_url'));
      expect(gone.status).toBe(404);
      expect(gone.body.errcode).toBe('M_NOT_FOUND');
    });

    it('answers an avatar URL that was never set with 404 M_NOT_FOUND', async () => {
      const u = await s.register('noav');
      const get = await s.http.get(profile(u.userId, 'avatar_url'));
      expect(get.status).toBe(404);
      expect(get.body.errcode).toBe('M_NOT_FOUND');
    });

    it('refuses to change another user\'s avatar URL with 403 M_FORBIDDEN', async () => {
      const owner = await s.register('avowner');
      const intruder = await s.register('avintruder');
      const put = await s.http.put(profile(owner.userId, 'avatar_url')).set(bearer(intruder)).send({ avatar_url: 'mxc://test.local/evil' });
      expect(put.status).toBe(403);
      expect(put.body.errcode).toBe('M_FORBIDDEN');
      const get = await s.http.get(profile(owner.userId, 'avatar_url'));
      expect(get.status).toBe(404);
      expect(get.body.errcode).toBe('M_NOT_FOUND');
    });

    it('refuses an avatar URL that is not a string with 400 M_BAD_JSON', async () => {
      const u = await s.register('avtype');
      const put = await s.http.put(profile(u.userId, 'avatar_url')).set(bearer(u)).send({ avatar_url: { url: 'mxc://x/y' } });
      expect(put.status).toBe(400);
      expect(put.body.errcode).toBe('M_BAD_JSON');
    });
  });

  describe('other keys and limits', () => {
    it('stores a namespaced custom field', async () => {
      const u = await s.register('custom');
      const put = await s.http.put(profile(u.userId, 'com.example.status')).set(bearer(u)).send({ 'com.example.status': 'busy' });
      expect(put.status).toBe(200);
      const get = await s.http.get(profile(u.userId, 'com.example.status'));
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ 'com.example.status': 'busy' });
    });

    it('refuses a key that is neither a known field nor namespaced with 400 M_INVALID_PARAM', async () => {
      const u = await s.register('badkey');
      const put = await s.http.put(profile(u.userId, 'status')).set(bearer(u)).send({ status: 'busy' });
      expect(put.status).toBe(400);
      expect(put.body.errcode).toBe('M_INVALID_PARAM');
    });

    it('refuses a key longer than 255 bytes with 400 M_KEY_TOO_LARGE', async () => {
      const u = await s.register('longkey');
      const key = `com.example.${'k'.repeat(250)}`;
      const put = await s.http.put(profile(u.userId, key)).set(bearer(u)).send({ [key]: 'x' });
      expect(put.status).toBe(400);
      expect(put.body.errcode).toBe('M_KEY_TOO_LARGE');
    });

    it('refuses a value that would make the profile larger than 64 KiB with 400 M_PROFILE_TOO_LARGE', async () => {
      const u = await s.register('bigprofile');
      const put = await s.http.put(profile(u.userId, 'com.example.big')).set(bearer(u)).send({ 'com.example.big': 'x'.repeat(65 * 1024) });
      expect(put.status).toBe(400);
      expect(put.body.errcode).toBe('M_PROFILE_TOO_LARGE');
      const get = await s.http.get(profile(u.userId, 'com.example.big'));
      expect(get.status).toBe(404);
      expect(get.body.errcode).toBe('M_NOT_FOUND');
    });
  });

  describe('guests', () => {
    it('lets a guest set its display name', async () => {
      const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
      const put = await s.http.put(profile(g.body.user_id, 'displayname')).set(tok(g.body.access_token)).send({ displayname: 'Visitor' });
      expect(put.status).toBe(200);
      const get = await s.http.get(profile(g.body.user_id, 'displayname'));
      expect(get.body).toEqual({ displayname: 'Visitor' });
    });

    it('refuses a guest an avatar URL with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
      const put = await s.http.put(profile(g.body.user_id, 'avatar_url')).set(tok(g.body.access_token)).send({ avatar_url: 'mxc://test.local/g' });
      expect(put.status).toBe(403);
      expect(put.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
    });
  });

  describe('changes reach the rooms (client-server-api "Events on Change of Profile Information")', () => {
    const member = async (user: { accessToken: string }, roomId: string, userId: string) =>
      (await s.http.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`).set(tok(user.accessToken))).body;
    const createRoom = async (user: { accessToken: string }, body: object = {}) =>
      (await s.http.post('/_matrix/client/v3/createRoom').set(tok(user.accessToken)).send(body)).body.room_id as string;

    it('updates the member event in every joined room, seen by the other members', async () => {
      const alice = await s.register('propalice');
      const bob = await s.register('propbob');
      const shared = await createRoom(bob, { preset: 'public_chat' });
      await s.http.post(`/_matrix/client/v3/join/${encodeURIComponent(shared)}`).set(tok(alice.accessToken)).send({});
      const own = await createRoom(alice);
      const invitedTo = await createRoom(bob, { invite: [alice.userId] });
      const before = await s.http.get('/_matrix/client/v3/sync').set(tok(bob.accessToken));

      const put = await s.http.put(profile(alice.userId, 'displayname')).set(tok(alice.accessToken)).send({ displayname: 'Alice Liddell' });
      expect(put.status).toBe(200);
      for (const roomId of [shared, own]) expect(await member(alice, roomId, alice.userId)).toEqual({ membership: 'join', displayname: 'Alice Liddell' });
      // An invite is not a membership to update.
      expect((await member(bob, invitedTo, alice.userId)).displayname).toBe('propalice');

      const after = await s.http.get('/_matrix/client/v3/sync').query({ since: before.body.next_batch, timeout: '0' }).set(tok(bob.accessToken));
      const events = after.body.rooms.join[shared].timeline.events;
      expect(events).toEqual([expect.objectContaining({
        type: 'm.room.member', sender: alice.userId, state_key: alice.userId,
        content: { membership: 'join', displayname: 'Alice Liddell' },
        unsigned: expect.objectContaining({ prev_content: { membership: 'join', displayname: 'propalice' } }),
      })]);
    });

    it('sets and removes the avatar in the member events', async () => {
      const u = await s.register('propavatar');
      const roomId = await createRoom(u);
      await s.http.put(profile(u.userId, 'avatar_url')).set(tok(u.accessToken)).send({ avatar_url: 'mxc://test.local/me' }).expect(200);
      expect(await member(u, roomId, u.userId)).toEqual({ membership: 'join', displayname: 'propavatar', avatar_url: 'mxc://test.local/me' });
      await s.http.delete(profile(u.userId, 'avatar_url')).set(tok(u.accessToken)).expect(200);
      expect(await member(u, roomId, u.userId)).toEqual({ membership: 'join', displayname: 'propavatar' });
    });

    it('sends nothing when the value does not change, and nothing for other profile keys', async () => {
      const u = await s.register('propsame');
      const roomId = await createRoom(u);
      const history = async () => (await s.http.get(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`).query({ dir: 'b', limit: '50' }).set(tok(u.accessToken))).body.chunk.length;
      const n = await history();
      await s.http.put(profile(u.userId, 'displayname')).set(tok(u.accessToken)).send({ displayname: 'propsame' }).expect(200);
      await s.http.put(profile(u.userId, 'm.tz')).set(tok(u.accessToken)).send({ 'm.tz': 'Europe/Stockholm' }).expect(200);
      expect(await history()).toBe(n);
    });

    it('keeps the other member content and does not repeat a reason', async () => {
      const owner = await s.register('propowner');
      const u = await s.register('propkeep');
      const roomId = await createRoom(owner, { preset: 'public_chat' });
      await s.http.post(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`).set(tok(u.accessToken)).send({ reason: 'hello' }).expect(200);
      await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(u.userId)}`)
        .set(tok(u.accessToken)).send({ membership: 'join', displayname: 'propkeep', 'org.example.flair': 'blue' }).expect(200);
      await s.http.put(profile(u.userId, 'displayname')).set(tok(u.accessToken)).send({ displayname: 'Keeper' }).expect(200);
      expect(await member(u, roomId, u.userId)).toEqual({ membership: 'join', displayname: 'Keeper', 'org.example.flair': 'blue' });
    });

    it('does not fail or lose the profile change when a room refuses the member event', async () => {
      const u = await s.register('proprefused');
      const fine = await createRoom(u);
      const refusing = await createRoom(u);
      // A member event so close to the 65536-byte event limit that a longer display name cannot fit.
      const pad = 'x'.repeat(64_600);
      await s.http.put(`/_matrix/client/v3/rooms/${encodeURIComponent(refusing)}/state/m.room.member/${encodeURIComponent(u.userId)}`)
        .set(tok(u.accessToken)).send({ membership: 'join', displayname: 'proprefused', 'org.example.pad': pad }).expect(200);
      const longName = 'N'.repeat(256);
      const put = await s.http.put(profile(u.userId, 'displayname')).set(tok(u.accessToken)).send({ displayname: longName });
      expect(put.status).toBe(200);
      expect((await s.http.get(profile(u.userId, 'displayname'))).body).toEqual({ displayname: longName });
      expect((await member(u, fine, u.userId)).displayname).toBe(longName);
      expect((await member(u, refusing, u.userId)).displayname).toBe('proprefused');
    });

    it('propagates a change made through the admin API', async () => {
      const admin = await s.register('propadmin');
      await s.services.accounts.setAdmin(admin.userId, true);
      const u = await s.register('propbyadmin');
      const roomId = await createRoom(u);
      await s.http.put(`/_synapse/admin/v2/users/${encodeURIComponent(u.userId)}`).set(tok(admin.accessToken)).send({ displayname: 'Renamed by admin' }).expect(200);
      expect((await member(u, roomId, u.userId)).displayname).toBe('Renamed by admin');
    });
  });
});
