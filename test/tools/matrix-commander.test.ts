// matrix-commander 8.0.6 (a CLI client built on matrix-nio) against a real Hearth: `--login password`
// first asks GET /_matrix/client/r0/login for the flows (the legacy r0 prefix: 404 before issue 14),
// then logs in and stores its credentials; a second run sends a message (-m) to a room.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, startToolServer, type ToolServer } from '../helpers/python.js';

const PASSWORD = 'commander password 1';

describe('matrix-commander', () => {
  let hs: ToolServer;
  let dir: string;
  beforeAll(async () => {
    hs = await startToolServer();
    dir = mkdtempSync(join(tmpdir(), 'hearth-mc-'));
  });
  afterAll(async () => {
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in over r0 and sends a message to a room', async () => {
    await hs.services.registration.createUser({ localpart: 'commander', password: PASSWORD, admin: false });
    const alice = await hs.services.registration.createUser({ localpart: 'alice', password: PASSWORD, admin: false, login: true });
    const roomId = await hs.services.rooms.createRoom(
      { userId: alice.user_id, deviceId: alice.device_id!, isGuest: false, isAdmin: false, tokenHash: '' },
      // Room version 11: matrix-commander 8 refuses room IDs without a server part (version 12's).
      { name: 'Commands', preset: 'public_chat', room_version: '11' }, hs.services.directory,
    );
    const common = ['--credentials', join(dir, 'credentials.json'), '--store', join(dir, 'store')];

    const login = await runTool('matrix-commander', [
      '--login', 'password', '--homeserver', hs.url, '--user-login', '@commander:localhost', '--password', PASSWORD,
      '--device', 'commander-test', '--room-default', roomId, ...common,
    ], { cwd: dir, timeoutMs: 90_000 });
    expect({ code: login.code, stderr: login.code === 0 ? '' : login.stderr }).toEqual({ code: 0, stderr: '' });
    const creds = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as Record<string, string>;
    expect(creds).toMatchObject({ user_id: '@commander:localhost', homeserver: hs.url, room_id: roomId, access_token: expect.stringMatching(/^hth_/) });
    // The flows came from the r0 route (its own metrics label).
    const metrics = await (await fetch(`${hs.url}/metrics`)).text();
    expect(metrics).toMatch(/hearth_http_requests_total\{method="GET",route="\/_matrix\/client\/r0\/login",status="200"\}/);

    // The commander joins the public room (matrix-commander --room-join), then sends.
    const join_ = await runTool('matrix-commander', [...common, '--room-join', roomId], { cwd: dir, timeoutMs: 90_000 });
    expect({ code: join_.code, stderr: join_.code === 0 ? '' : join_.stderr }).toEqual({ code: 0, stderr: '' });
    const send = await runTool('matrix-commander', [...common, '-m', 'hello from matrix-commander', '--room', roomId], { cwd: dir, timeoutMs: 90_000 });
    expect({ code: send.code, stderr: send.code === 0 ? '' : send.stderr }).toEqual({ code: 0, stderr: '' });

    const events = await hs.services.storage.rooms.getRoomEvents({ roomId, from: Number.MAX_SAFE_INTEGER - 1, dir: 'b', limit: 5 });
    const message = events.find((r) => r.event.type === 'm.room.message');
    expect(message?.event).toMatchObject({ sender: '@commander:localhost', content: { msgtype: 'm.text', body: 'hello from matrix-commander' } });
  }, 240_000);
});
