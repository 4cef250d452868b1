// matrix-nio 0.26 (the Python SDK most bots use) against a real Hearth: login, sync, the server-notice
// invite and notice, devices, presence (test/python/nio_client.py). nio's Event parsing requires a
// user ID as sender (nio/schemas.py check_user_id), so with server_events.compat_sender_localpart the
// notices room and the notice come from the server-owned user; a client that says it understands
// server-name senders (filter key hearth.domain_senders) gets the server name, which nio cannot parse
// (the "Empty Room" of issue 14).
import { lastJson, runPython, startToolServer, type ToolServer } from '../helpers/python.js';

interface Described { class: string; sender: string | null; type: string | null; body: string | null; unsigned: Record<string, unknown> }
interface NioResult {
  login: string;
  invite_state?: Described[];
  invited_room?: string | null;
  invited_room_name?: string | null;
  inviter?: string | null;
  join?: string;
  timeline?: Described[];
  notices?: Described[];
  room_name?: string | null;
  devices?: string;
  device_ids?: string[];
  presence?: string;
  presence_value?: string;
  status_msg?: string | null;
  presence_after?: string;
  status_msg_after?: string | null;
}

const PASSWORD = 'nio password 123';

async function nio(hs: ToolServer, localpart: string, mode: 'compat' | 'domain'): Promise<NioResult> {
  await hs.services.registration.createUser({ localpart, password: PASSWORD, admin: false });
  const r = await runPython('nio_client.py', [hs.url, `@${localpart}:localhost`, PASSWORD, mode], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`nio_client.py exited ${r.code}:\n${r.stderr}`);
  return lastJson<NioResult>(r);
}

describe('matrix-nio with compat_sender_localpart set', () => {
  let hs: ToolServer;
  beforeAll(async () => { hs = await startToolServer({ server_events: { compat_sender_localpart: 'notices' } }); });
  afterAll(() => hs.stop());

  it('logs in, sees the notices room by name with the system user as inviter, joins, and reads the notice from the compat sender', async () => {
    const out = await nio(hs, 'niocompat', 'compat');
    expect(out.login).toBe('LoginResponse');
    // The room name, the inviter's own member event and the invite: all from the server-owned system
    // user (server_notices.system_user_localpart), a real user; the notice from the compat sender.
    expect(out.invite_state?.map((e) => [e.class, e.sender])).toEqual([['InviteNameEvent', '@system:localhost'], ['InviteMemberEvent', '@system:localhost'], ['InviteMemberEvent', '@system:localhost']]);
    expect(out.invited_room_name).toBe('Server Notices');
    expect(out.inviter).toBe('@system:localhost');
    expect(out.join).toBe('JoinResponse');
    expect(out.notices).toEqual([{
      class: 'RoomMessageText', sender: '@notices:localhost', type: 'm.room.message', body: expect.stringMatching(/^A new device \([A-Z]+\) logged in to your account\.$/),
      unsigned: expect.objectContaining({ 'hearth.server_sender': 'localhost' }),
    }]);
    // Nothing in the room was unparseable for nio.
    expect(out.timeline?.filter((e) => /BadEvent/.test(e.class))).toEqual([]);
    expect(out.room_name).toBe('Server Notices');
  }, 120_000);

  it('lists the devices (every key present) and reads presence without a status message, then with one', async () => {
    const out = await nio(hs, 'niodevices', 'compat');
    expect(out.devices).toBe('DevicesResponse');
    expect(out.device_ids).toHaveLength(1);
    expect(out.presence).toBe('PresenceGetResponse');
    expect(out.presence_value).toBe('online');
    expect(out.status_msg).toBeNull(); // left out by the server, None in nio
    expect(out.presence_after).toBe('PresenceGetResponse');
    expect(out.status_msg_after).toBe('busy testing');
  }, 120_000);

  it('gets the server name as sender of the notices when its filter says it understands server-name senders (nio then cannot parse them)', async () => {
    const out = await nio(hs, 'niodomain', 'domain');
    expect(out.login).toBe('LoginResponse');
    // The room's graph events come from the system user, a real user: nio parses the invite.
    expect(out.invite_state?.find((e) => e.type === 'm.room.member')).toMatchObject({ class: 'InviteMemberEvent', sender: '@system:localhost' });
    expect(out.invited_room_name).toBe('Server Notices');
    expect(out.join).toBe('JoinResponse');
    expect(out.notices).toEqual([expect.objectContaining({ class: 'BadEvent', sender: 'localhost', type: 'm.room.message' })]);
    expect(out.notices?.[0]?.unsigned['hearth.server_sender']).toBeUndefined();
  }, 120_000);
});

describe('matrix-nio without compat_sender_localpart (the default)', () => {
  let hs: ToolServer;
  beforeAll(async () => { hs = await startToolServer(); });
  afterAll(() => hs.stop());

  it('gets the server name as sender of the notice, which nio cannot parse (why the switch exists); the room itself is the system user\'s', async () => {
    const out = await nio(hs, 'niodefault', 'compat');
    // The notices room's graph events come from the server-owned system user: nio names the room.
    expect(out.invited_room_name).toBe('Server Notices');
    expect(out.notices?.map((e) => [e.class, e.sender])).toEqual([['BadEvent', 'localhost']]);
    // Everything else works as usual.
    expect(out.devices).toBe('DevicesResponse');
    expect(out.presence).toBe('PresenceGetResponse');
  }, 120_000);
});
