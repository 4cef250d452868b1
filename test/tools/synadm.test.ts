// synadm 0.49.2 (the standard Synapse admin CLI) against a real Hearth, with a config file and
// --batch -o json: users and their devices, password reset, the Matrix login and room alias lookup
// synadm makes over the legacy r0 prefix, a user's memberships (with r0 alias lookups), and the other
// admin endpoints of issue 14 (login as a user, shadow ban, room state and block, registration tokens).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastJson, runTool, startToolServer, type RunResult, type ToolServer } from '../helpers/python.js';

const PASSWORD = 'synadm password 1';

describe('synadm', () => {
  let hs: ToolServer;
  let dir: string;
  let config: string;
  let roomId: string;
  beforeAll(async () => {
    hs = await startToolServer();
    dir = mkdtempSync(join(tmpdir(), 'hearth-synadm-'));
    const admin = await hs.services.registration.createUser({ localpart: 'admin', password: PASSWORD, admin: true, login: true });
    const alice = await hs.services.registration.createUser({ localpart: 'alice', password: PASSWORD, admin: false, login: true });
    await hs.services.login.withPassword('alice', PASSWORD, 'PHONE', 'phone');
    roomId = await hs.services.rooms.createRoom(
      { userId: alice.user_id, deviceId: alice.device_id!, isGuest: false, isAdmin: false, tokenHash: '' },
      { name: 'Tools', preset: 'public_chat', room_alias_name: 'tools' }, hs.services.directory,
    );
    config = join(dir, 'synadm.yaml');
    writeFileSync(config, [
      'user: admin', `token: ${admin.access_token}`, `base_url: ${hs.url}`, 'admin_path: /_synapse/admin', 'matrix_path: /_matrix',
      'timeout: 30', 'format: json', 'ssl_verify: false', 'protocol: http', 'server_discovery: well-known', 'homeserver: localhost', '',
    ].join('\n'));
  });
  afterAll(async () => {
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const synadm = async (...args: string[]): Promise<RunResult> => {
    const r = await runTool('synadm', ['-c', config, '--batch', '-o', 'json', ...args], { cwd: dir, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`synadm ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const routeCount = async (method: string, route: string) => {
    const text = await (await fetch(`${hs.url}/metrics`)).text();
    const m = new RegExp(`hearth_http_requests_total\\{method="${method}",route="${route.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}",status="200"\\} (\\d+)`).exec(text);
    return m ? Number(m[1]) : 0;
  };

  it('user list: the local users with Synapse\'s fields', async () => {
    const out = lastJson<{ users: { name: string; admin: boolean }[]; total: number }>(await synadm('user', 'list'));
    // The server-owned system user of the notices rooms is an account too (as Synapse's notices user is).
    expect(out.users.map((u) => u.name)).toEqual(['@admin:localhost', '@alice:localhost', '@system:localhost']);
    expect(out.users[0]!.admin).toBe(true);
  }, 60_000);

  it('user prune-devices --list-only: the user\'s devices through the v2 devices API', async () => {
    // Devices never seen (last_seen_ts null) count as old: --min-days 1 --min-surviving 0 lists them all.
    const out = lastJson<{ device_id: string; user_id: string }[]>(await synadm('user', 'prune-devices', '@alice:localhost', '--list-only', '--min-days', '1', '--min-surviving', '0'));
    expect(out.map((d) => d.device_id)).toContain('PHONE');
    expect(out).toHaveLength(2);
    expect(out.every((d) => d.user_id === '@alice:localhost')).toBe(true);
    // And for real: every device but the newest goes (delete_devices).
    await synadm('user', 'prune-devices', '@alice:localhost', '--min-days', '1', '--min-surviving', '1');
    expect(await hs.services.storage.accounts.listDevices('@alice:localhost')).toHaveLength(1);
  }, 60_000);

  it('user password resets the password; matrix login (over r0) works with the new one', async () => {
    const before = await routeCount('POST', '/_matrix/client/r0/login');
    expect(lastJson(await synadm('user', 'password', '@alice:localhost', '-p', 'a brand new password'))).toEqual({});
    const login = lastJson<{ user_id: string; access_token: string; device_id: string }>(await synadm('matrix', 'login', '@alice:localhost', '-p', 'a brand new password'));
    expect(login).toMatchObject({ user_id: '@alice:localhost', access_token: expect.stringMatching(/^hth_/), device_id: expect.any(String) });
    expect(await routeCount('POST', '/_matrix/client/r0/login')).toBe(before + 1);
    const devices = await hs.services.storage.accounts.listDevices('@alice:localhost');
    expect(devices.map((d) => d.displayName)).toEqual(['synadm matrix login command']);
  }, 60_000);

  it('room resolve: an alias to its room ID (r0 directory), and back (r0 aliases)', async () => {
    expect(lastJson(await synadm('room', 'resolve', '#tools:localhost'))).toBe(roomId);
    expect(lastJson(await synadm('room', 'resolve', '--reverse', roomId))).toEqual({ aliases: ['#tools:localhost'] });
    expect(await routeCount('GET', '/_matrix/client/r0/directory/room/:roomAlias')).toBe(1);
  }, 60_000);

  it('user membership: the rooms a user is in, as aliases (r0 room aliases for an admin who is no member)', async () => {
    expect(lastJson(await synadm('user', 'membership', '@alice:localhost'))).toEqual({ joined_rooms: ['#tools:localhost'], total: 1 });
    expect(lastJson(await synadm('user', 'membership', '--ids', '@alice:localhost'))).toEqual({ joined_rooms: [roomId], total: 1 });
    expect(await routeCount('GET', '/_matrix/client/r0/rooms/:roomId/aliases')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('user login: a token for the user that expires; user shadow-ban and its undo', async () => {
    const login = lastJson<{ access_token: string }>(await synadm('user', 'login', '@alice:localhost', '--expire-days', '1'));
    const who = await fetch(`${hs.url}/_matrix/client/v3/account/whoami`, { headers: { Authorization: `Bearer ${login.access_token}` } });
    expect((await who.json() as { user_id: string }).user_id).toBe('@alice:localhost');
    expect(lastJson(await synadm('user', 'shadow-ban', '@alice:localhost'))).toEqual({});
    expect((await hs.services.storage.accounts.getUser('@alice:localhost'))?.shadowBanned).toBe(true);
    expect(lastJson(await synadm('user', 'shadow-ban', '--unban', '@alice:localhost'))).toEqual({});
    expect((await hs.services.storage.accounts.getUser('@alice:localhost'))?.shadowBanned).toBe(false);
  }, 60_000);

  it('room state, room block and block-status', async () => {
    const state = lastJson<{ state: { type: string }[] }>(await synadm('room', 'state', roomId));
    expect(state.state.map((e) => e.type)).toContain('m.room.name');
    expect(lastJson(await synadm('room', 'block', roomId))).toEqual({ block: true });
    expect(lastJson(await synadm('room', 'block-status', roomId))).toEqual({ block: true, user_id: '@admin:localhost' });
    expect(lastJson(await synadm('room', 'block', '--unblock', roomId))).toEqual({ block: false });
  }, 60_000);

  it('regtok new, list, details, update and delete', async () => {
    const made = lastJson<{ token: string; uses_allowed: number }>(await synadm('regtok', 'new', '--token', 'invite-only', '--uses-allowed', '3'));
    expect(made).toEqual({ token: 'invite-only', uses_allowed: 3, pending: 0, completed: 0, expiry_time: null });
    const list = lastJson<{ registration_tokens: { token: string }[] }>(await synadm('regtok', 'list'));
    expect(list.registration_tokens.map((t) => t.token)).toEqual(['invite-only']);
    expect(lastJson(await synadm('regtok', 'details', 'invite-only'))).toMatchObject({ token: 'invite-only', uses_allowed: 3 });
    expect(lastJson(await synadm('regtok', 'update', 'invite-only', '--uses-allowed', '5'))).toMatchObject({ uses_allowed: 5 });
    expect((await synadm('regtok', 'delete', 'invite-only')).stdout).toContain('Registration token successfully deleted.');
    expect(await hs.services.storage.admin.getRegistrationToken('invite-only')).toBeUndefined();
  }, 60_000);
});
