// The exact requests the Python tools send, replayed with supertest (no venv needed), for the parts
// issue 14 fixed: matrix-commander's r0 login flows (matrix_commander.py: GET {hs}/_matrix/client/r0/login),
// synadm's Matrix login (synadm/api.py user_login: POST client/r0/login with a top-level `user`),
// synadm's alias lookups (GET client/r0/directory/room/{alias}, client/r0/rooms/{roomId}/aliases) and
// matrix-nio's response schemas for /devices and /presence (nio/schemas.py Schemas.devices, get_presence).
import { bearer, expectError, makeTestServer } from '../helpers/server.js';

/** nio/schemas.py Schemas.devices: every device has the four keys, strings/integers or null. */
function nioAcceptsDevices(body: { devices?: Record<string, unknown>[] }): boolean {
  return Array.isArray(body.devices) && body.devices.every((d) =>
    typeof d.device_id === 'string'
    && 'display_name' in d && (d.display_name === null || typeof d.display_name === 'string')
    && 'last_seen_ip' in d && (d.last_seen_ip === null || typeof d.last_seen_ip === 'string')
    && 'last_seen_ts' in d && (d.last_seen_ts === null || Number.isInteger(d.last_seen_ts)));
}

/** nio/schemas.py Schemas.get_presence: presence a string; status_msg, when present, a string. */
const nioAcceptsPresence = (body: Record<string, unknown>) => typeof body.presence === 'string' && (!('status_msg' in body) || typeof body.status_msg === 'string');

describe('replayed tool requests', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('matrix-commander --login password: GET /_matrix/client/r0/login lists m.login.password', async () => {
    const res = await s.http.get('/_matrix/client/r0/login');
    expect(res.status).toBe(200);
    expect(res.body.flows).toContainEqual({ type: 'm.login.password' });
  });

  it('synadm matrix login: POST /_matrix/client/r0/login with a top-level user ID', async () => {
    const u = await s.register('synadmuser');
    const res = await s.http.post('/_matrix/client/r0/login').send({
      password: u.password, type: 'm.login.password', user: u.userId, initial_device_display_name: 'synadm matrix login command',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user_id: u.userId, access_token: expect.any(String), device_id: expect.any(String) });
    expectError(await s.http.post('/_matrix/client/r0/login').send({ password: 'wrong password', type: 'm.login.password', user: u.userId }), 403, 'M_FORBIDDEN');
  });

  it('synadm room resolve and user membership: r0 alias lookups, also by an admin who is not in the room', async () => {
    const owner = await s.register('aliasowner');
    const admin = await s.register('aliasadmin');
    await s.services.accounts.setAdmin(admin.userId, true);
    const roomId = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(owner)).send({ room_alias_name: 'replayed' })).body.room_id;
    const byAlias = await s.http.get(`/_matrix/client/r0/directory/room/${encodeURIComponent('#replayed:test.local')}`).set(bearer(admin));
    expect(byAlias.body).toEqual({ room_id: roomId, servers: ['test.local'] });
    const aliases = await s.http.get(`/_matrix/client/r0/rooms/${encodeURIComponent(roomId)}/aliases`).set(bearer(admin));
    expect(aliases.body).toEqual({ aliases: ['#replayed:test.local'] });
  });

  it('matrix-nio devices() and get_presence(): answers its schemas accept', async () => {
    const u = await s.register('nioshapes');
    await s.http.post('/_matrix/client/v3/login').send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'nioshapes' }, password: u.password, device_id: 'UNNAMED' }).expect(200);
    const devices = await s.http.get('/_matrix/client/v3/devices').set(bearer(u));
    expect(nioAcceptsDevices(devices.body)).toBe(true);
    const presence = await s.http.get(`/_matrix/client/v3/presence/${encodeURIComponent(u.userId)}/status`).set(bearer(u));
    expect(nioAcceptsPresence(presence.body)).toBe(true);
  });
});
