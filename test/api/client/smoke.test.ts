import { makeTestServer, bearer } from '../../helpers/server.js';

describe('foundation smoke', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('registers, answers whoami and logs out', async () => {
    const alice = await s.register('alice');
    expect(alice.userId).toBe('@alice:test.local');
    const who = await s.http.get('/_matrix/client/v3/account/whoami').set(bearer(alice));
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ user_id: '@alice:test.local', device_id: alice.deviceId, is_guest: false });
    const out = await s.http.post('/_matrix/client/v3/logout').set(bearer(alice));
    expect(out.status).toBe(200);
    const again = await s.http.get('/_matrix/client/v3/account/whoami').set(bearer(alice));
    expect(again.status).toBe(401);
    expect(again.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('answers unknown paths with 404 and wrong methods with 405, both M_UNRECOGNIZED', async () => {
    const a = await s.http.get('/_matrix/client/v3/nope');
    expect(a.status).toBe(404);
    expect(a.body.errcode).toBe('M_UNRECOGNIZED');
    const b = await s.http.delete('/_matrix/client/v3/login');
    expect(b.status).toBe(405);
    expect(b.body.errcode).toBe('M_UNRECOGNIZED');
  });
});
