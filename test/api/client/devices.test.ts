// Device management (matrix-spec: device_management.yaml#getDevices, #getDevice, #updateDevice,
// #deleteDevice, #deleteDevices).
import { makeTestServer, bearer, type TestUser } from '../../helpers/server.js';

const DEVICES = '/_matrix/client/v3/devices';
const DELETE_DEVICES = '/_matrix/client/v3/delete_devices';
const WHOAMI = '/_matrix/client/v3/account/whoami';
const LOGIN = '/_matrix/client/v3/login';

const tok = (accessToken: string) => bearer({ accessToken });
const passwordAuth = (user: string, password: string, session?: string) => ({
  type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...(session ? { session } : {}),
});
const ids = (body: { devices: { device_id: string }[] }) => body.devices.map((d) => d.device_id).sort();

describe('device management', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  async function login(u: TestUser, deviceId: string, displayName?: string): Promise<string> {
    const res = await s.http.post(LOGIN).send({
      type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password,
      device_id: deviceId, ...(displayName !== undefined ? { initial_device_display_name: displayName } : {}),
    });
    expect(res.status).toBe(200);
    return res.body.access_token;
  }

  describe('GET /devices', () => {
    it('lists every device of the caller and no device of other users', async () => {
      const u = await s.register('lister');
      const other = await s.register('otherlister');
      await login(u, 'DEVA', 'Device A');
      await login(u, 'DEVB');
      await login(other, 'NOTMINE');
      const res = await s.http.get(DEVICES).set(bearer(u));
      expect(res.status).toBe(200);
      expect(ids(res.body)).toEqual(['DEVA', 'DEVB', u.deviceId].sort());
    });

    it('gives every key of every device, null when unknown (Synapse and matrix-nio shape)', async () => {
      const u = await s.register('named');
      await login(u, 'WITHNAME', 'Named device');
      await login(u, 'NONAME');
      const res = await s.http.get(DEVICES).set(bearer(u));
      const byId = Object.fromEntries(res.body.devices.map((d: { device_id: string }) => [d.device_id, d]));
      expect(byId.WITHNAME.display_name).toBe('Named device');
      expect(byId.NONAME).toEqual({ device_id: 'NONAME', display_name: null, last_seen_ip: null, last_seen_ts: null });
    });

    it('reports when and from where the calling device was last seen', async () => {
      const u = await s.register('seen');
      const res = await s.http.get(DEVICES).set(bearer(u));
      const mine = res.body.devices.find((d: { device_id: string }) => d.device_id === u.deviceId);
      expect(mine.last_seen_ts).toBe(s.clock.now());
      expect(typeof mine.last_seen_ip).toBe('string');
      expect(mine.last_seen_ip.length).toBeGreaterThan(0);
    });

    it('updates last_seen_ts when the device is used again later', async () => {
      const u = await s.register('seenlater');
      await s.http.get(WHOAMI).set(bearer(u));
      const before = s.clock.now();
      s.clock.advance(5 * 60_000);
      const res = await s.http.get(DEVICES).set(bearer(u));
      const mine = res.body.devices.find((d: { device_id: string }) => d.device_id === u.deviceId);
      expect(mine.last_seen_ts).toBe(before + 5 * 60_000);
    });

    it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
      const res = await s.http.get(DEVICES);
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });

    it('lets a guest list its devices', async () => {
      const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
      const res = await s.http.get(DEVICES).set(tok(g.body.access_token));
      expect(res.status).toBe(200);
      expect(ids(res.body)).toEqual([g.body.device_id]);
    });
  });

  describe('GET /devices/{deviceId}', () => {
    it('returns one of the caller\'s devices', async () => {
      const u = await s.register('getter');
      await login(u, 'GETME', 'Get me');
      const res = await s.http.get(`${DEVICES}/GETME`).set(bearer(u));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ device_id: 'GETME', display_name: 'Get me' });
    });

    it('answers an unknown device with 404 M_NOT_FOUND', async () => {
      const u = await s.register('getter404');
      const res = await s.http.get(`${DEVICES}/NOSUCHDEVICE`).set(bearer(u));
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    });

    it('answers another user\'s device with 404 M_NOT_FOUND', async () => {
      const u = await s.register('snoop');
      const other = await s.register('snooped');
      const res = await s.http.get(`${DEVICES}/${other.deviceId}`).set(bearer(u));
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    });

    it('accepts a percent-encoded device ID', async () => {
      const u = await s.register('encdev');
      await login(u, 'WITH SPACE/SLASH');
      const res = await s.http.get(`${DEVICES}/${encodeURIComponent('WITH SPACE/SLASH')}`).set(bearer(u));
      expect(res.status).toBe(200);
      expect(res.body.device_id).toBe('WITH SPACE/SLASH');
    });
  });

  describe('PUT /devices/{deviceId}', () => {
    it('renames a device', async () => {
      const u = await s.register('renamer');
      const res = await s.http.put(`${DEVICES}/${u.deviceId}`).set(bearer(u)).send({ display_name: 'New name' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const get = await s.http.get(`${DEVICES}/${u.deviceId}`).set(bearer(u));
      expect(get.body.display_name).toBe('New name');
    });

    it('renames another of the caller\'s devices without touching its token', async () => {
      const u = await s.register('renamer2');
      const other = await login(u, 'RENAMEME', 'Old');
      const res = await s.http.put(`${DEVICES}/RENAMEME`).set(bearer(u)).send({ display_name: 'Renamed' });
      expect(res.status).toBe(200);
      const get = await s.http.get(`${DEVICES}/RENAMEME`).set(tok(other));
      expect(get.status).toBe(200);
      expect(get.body.display_name).toBe('Renamed');
    });

    it('accepts a body without display_name and changes nothing', async () => {
      const u = await s.register('renamer3');
      await login(u, 'KEEPNAME', 'Kept');
      const res = await s.http.put(`${DEVICES}/KEEPNAME`).set(bearer(u)).send({});
      expect(res.status).toBe(200);
      const get = await s.http.get(`${DEVICES}/KEEPNAME`).set(bearer(u));
      expect(get.body.display_name).toBe('Kept');
    });

    it('answers an unknown device with 404 M_NOT_FOUND', async () => {
      const u = await s.register('renamer404');
      const res = await s.http.put(`${DEVICES}/NOSUCHDEVICE`).set(bearer(u)).send({ display_name: 'x' });
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    });

    it('answers another user\'s device with 404 M_NOT_FOUND and leaves it unchanged', async () => {
      const u = await s.register('meddler');
      const other = await s.register('meddled');
      await login(other, 'VICTIMDEV', 'Original');
      const res = await s.http.put(`${DEVICES}/VICTIMDEV`).set(bearer(u)).send({ display_name: 'Hacked' });
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
      const get = await s.http.get(`${DEVICES}/VICTIMDEV`).set(bearer(other));
      expect(get.body.display_name).toBe('Original');
    });

    it('refuses a display_name that is not a string with 400 M_BAD_JSON', async () => {
      const u = await s.register('renamertype');
      const res = await s.http.put(`${DEVICES}/${u.deviceId}`).set(bearer(u)).send({ display_name: 42 });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
    });

    it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
      const res = await s.http.put(`${DEVICES}/ANY`).send({ display_name: 'x' });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });
  });

  describe('DELETE /devices/{deviceId}', () => {
    it('answers a request without auth with 401, the m.login.password flow and a session, and keeps the device', async () => {
      const u = await s.register('deluia');
      const victim = await login(u, 'DELUIA');
      const res = await s.http.delete(`${DEVICES}/DELUIA`).set(bearer(u)).send({});
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        flows: [{ stages: ['m.login.password'] }],
        params: {},
        session: expect.any(String),
        completed: [],
      });
      expect((await s.http.get(WHOAMI).set(tok(victim))).status).toBe(200);
    });

    it('asks for auth when the request has no body at all', async () => {
      const u = await s.register('delnobody');
      await login(u, 'DELNOBODY');
      const res = await s.http.delete(`${DEVICES}/DELNOBODY`).set(bearer(u));
      expect(res.status).toBe(401);
      expect(res.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    });

    it('deletes the device after the 401 round-trip and revokes its token', async () => {
      const u = await s.register('deleter');
      const victim = await login(u, 'DELME');
      const first = await s.http.delete(`${DEVICES}/DELME`).set(bearer(u)).send({});
      const res = await s.http.delete(`${DEVICES}/DELME`).set(bearer(u)).send({ auth: passwordAuth(u.userId, u.password, first.body.session) });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const who = await s.http.get(WHOAMI).set(tok(victim));
      expect(who.status).toBe(401);
      expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
      const get = await s.http.get(`${DEVICES}/DELME`).set(bearer(u));
      expect(get.status).toBe(404);
      expect(get.body.errcode).toBe('M_NOT_FOUND');
      expect((await s.http.get(WHOAMI).set(bearer(u))).status).toBe(200);
    });

    it('deletes the caller\'s own device, revoking the token used', async () => {
      const u = await s.register('selfdelete');
      const res = await s.http.delete(`${DEVICES}/${u.deviceId}`).set(bearer(u)).send({ auth: passwordAuth(u.userId, u.password) });
      expect(res.status).toBe(200);
      const who = await s.http.get(WHOAMI).set(bearer(u));
      expect(who.status).toBe(401);
      expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
    });

    it('refuses a wrong password with 401 M_FORBIDDEN and keeps the device', async () => {
      const u = await s.register('delwrong');
      const victim = await login(u, 'KEEPME');
      const res = await s.http.delete(`${DEVICES}/KEEPME`).set(bearer(u)).send({ auth: passwordAuth(u.userId, 'wrong password') });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
      expect(res.body.flows).toEqual([{ stages: ['m.login.password'] }]);
      expect((await s.http.get(WHOAMI).set(tok(victim))).status).toBe(200);
    });

    it('answers 200 for a device that had been removed previously (spec: "or had been removed previously")', async () => {
      const u = await s.register('deltwice');
      await login(u, 'GONE');
      const first = await s.http.delete(`${DEVICES}/GONE`).set(bearer(u)).send({ auth: passwordAuth(u.userId, u.password) });
      expect(first.status).toBe(200);
      const again = await s.http.delete(`${DEVICES}/GONE`).set(bearer(u)).send({ auth: passwordAuth(u.userId, u.password) });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({});
    });

    it('never deletes another user\'s device', async () => {
      const u = await s.register('delother');
      const other = await s.register('delotherowner');
      const res = await s.http.delete(`${DEVICES}/${other.deviceId}`).set(bearer(u)).send({ auth: passwordAuth(u.userId, u.password) });
      // The status for a device the caller does not have is covered above; here only the outcome matters.
      expect(res.status).toBeLessThan(500);
      expect((await s.http.get(WHOAMI).set(bearer(other))).status).toBe(200);
      expect((await s.http.get(`${DEVICES}/${other.deviceId}`).set(bearer(other))).status).toBe(200);
    });

    it('refuses a guest with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
      const res = await s.http.delete(`${DEVICES}/${g.body.device_id}`).set(tok(g.body.access_token)).send({});
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
    });

    it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
      const res = await s.http.delete(`${DEVICES}/ANY`).send({});
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });
  });

  describe('POST /delete_devices', () => {
    it('answers a request without auth with 401, the m.login.password flow and a session', async () => {
      const u = await s.register('bulkuia');
      await login(u, 'BULK1');
      const res = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: ['BULK1'] });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        flows: [{ stages: ['m.login.password'] }],
        params: {},
        session: expect.any(String),
        completed: [],
      });
      const list = await s.http.get(DEVICES).set(bearer(u));
      expect(ids(list.body)).toEqual(['BULK1', u.deviceId].sort());
    });

    it('deletes the listed devices after the 401 round-trip, revoking their tokens and keeping the others', async () => {
      const u = await s.register('bulk');
      const t1 = await login(u, 'BULKA');
      const t2 = await login(u, 'BULKB');
      const t3 = await login(u, 'BULKC');
      const first = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: ['BULKA', 'BULKB'] });
      const res = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: ['BULKA', 'BULKB'], auth: passwordAuth(u.userId, u.password, first.body.session) });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      for (const t of [t1, t2]) {
        const who = await s.http.get(WHOAMI).set(tok(t));
        expect(who.status).toBe(401);
        expect(who.body.errcode).toBe('M_UNKNOWN_TOKEN');
      }
      expect((await s.http.get(WHOAMI).set(tok(t3))).status).toBe(200);
      const list = await s.http.get(DEVICES).set(bearer(u));
      expect(ids(list.body)).toEqual(['BULKC', u.deviceId].sort());
    });

    it('answers 200 when some listed devices do not exist', async () => {
      const u = await s.register('bulkmissing');
      await login(u, 'REAL');
      const res = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: ['REAL', 'NEVER_EXISTED'], auth: passwordAuth(u.userId, u.password) });
      expect(res.status).toBe(200);
      const list = await s.http.get(DEVICES).set(bearer(u));
      expect(ids(list.body)).toEqual([u.deviceId]);
    });

    it('never deletes another user\'s device', async () => {
      const u = await s.register('bulkother');
      const other = await s.register('bulkotherowner');
      const res = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: [other.deviceId], auth: passwordAuth(u.userId, u.password) });
      expect(res.status).toBe(200);
      expect((await s.http.get(WHOAMI).set(bearer(other))).status).toBe(200);
    });

    it('refuses a wrong password with 401 M_FORBIDDEN and deletes nothing', async () => {
      const u = await s.register('bulkwrong');
      const t = await login(u, 'STAYS');
      const res = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: ['STAYS'], auth: passwordAuth(u.userId, 'wrong password') });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
      expect((await s.http.get(WHOAMI).set(tok(t))).status).toBe(200);
    });

    it('refuses devices that is not a list of strings with 400 M_BAD_JSON', async () => {
      const u = await s.register('bulktype');
      const res = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: 'STAYS', auth: passwordAuth(u.userId, u.password) });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe('M_BAD_JSON');
      const res2 = await s.http.post(DELETE_DEVICES).set(bearer(u)).send({ devices: [1, 2], auth: passwordAuth(u.userId, u.password) });
      expect(res2.status).toBe(400);
      expect(res2.body.errcode).toBe('M_BAD_JSON');
    });

    it('refuses a guest with 403 M_GUEST_ACCESS_FORBIDDEN', async () => {
      const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
      const res = await s.http.post(DELETE_DEVICES).set(tok(g.body.access_token)).send({ devices: [g.body.device_id] });
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
    });

    it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
      const res = await s.http.post(DELETE_DEVICES).send({ devices: [] });
      expect(res.status).toBe(401);
      expect(res.body.errcode).toBe('M_MISSING_TOKEN');
    });
  });
});
