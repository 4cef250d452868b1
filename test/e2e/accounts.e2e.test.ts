// The account surface driven by a real Matrix client (matrix-js-sdk) over real HTTP against a Hearth
// started by startServer on port 0: discovery, registration (one-shot and the 401 UIA round-trip),
// login, whoami, profile, devices, password change and logout.
import * as sdk from 'matrix-js-sdk';
import { startE2eServer, type E2eServer } from './helpers.js';

/** Runs `fn`, expects it to reject with a matrix-js-sdk MatrixError, and returns that error. */
async function matrixError(fn: () => Promise<unknown>): Promise<sdk.MatrixError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error('expected the call to fail, it succeeded');
  expect(caught).toBeInstanceOf(sdk.MatrixError);
  return caught as sdk.MatrixError;
}

const PASSWORD = 'a-long-enough-password';

describe('accounts through matrix-js-sdk', () => {
  let hs: E2eServer;

  beforeAll(async () => {
    hs = await startE2eServer();
  });
  afterAll(async () => {
    await hs?.stop();
  });

  it('listens on a real port picked by the OS', () => {
    expect(hs.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(hs.url).port)).toBeGreaterThan(0);
  });

  it('answers discovery: versions, login flows, username availability', async () => {
    const anon = hs.client();
    const versions = await anon.getVersions();
    expect(versions.versions).toEqual(expect.arrayContaining(['v1.1', 'v1.12']));
    for (const v of versions.versions) expect(v).toMatch(/^v1\.\d+$/);
    expect(typeof versions.unstable_features).toBe('object');
    expect(await anon.isVersionSupported('v1.1')).toBe(true);

    const flows = await anon.loginFlows();
    expect(flows.flows).toEqual([{ type: 'm.login.password' }]);

    expect(await anon.isUsernameAvailable('nobody-yet')).toBe(true);
  });

  it('registers with m.login.dummy in one request and the token works (whoami)', async () => {
    const anon = hs.client();
    const res = await anon.registerRequest({ username: 'alice', password: PASSWORD, auth: { type: 'm.login.dummy' } });
    expect(res.user_id).toBe('@alice:localhost');
    expect((res as { home_server?: string }).home_server).toBe('localhost');
    expect(typeof res.access_token).toBe('string');
    expect(res.access_token!.length).toBeGreaterThanOrEqual(22); // >= 128 bits of randomness
    expect(typeof res.device_id).toBe('string');
    expect(res.device_id!.length).toBeGreaterThan(0);

    const alice = hs.client({ userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    expect(await alice.whoami()).toEqual({ user_id: '@alice:localhost', device_id: res.device_id, is_guest: false });

    // The name is taken now: both the availability check and a second registration say so.
    expect(await anon.isUsernameAvailable('alice')).toBe(false);
    const taken = await matrixError(() => anon.registerRequest({ username: 'alice', password: PASSWORD, auth: { type: 'm.login.dummy' } }));
    expect(taken.httpStatus).toBe(400);
    expect(taken.errcode).toBe('M_USER_IN_USE');
  });

  it('registers through the 401 user-interactive auth round-trip with a session', async () => {
    const anon = hs.client();
    const challenge = await matrixError(() => anon.registerRequest({ username: 'carol', password: PASSWORD }));
    expect(challenge.httpStatus).toBe(401);
    const data = challenge.data as { session?: unknown; flows?: unknown; params?: unknown; completed?: unknown };
    expect(typeof data.session).toBe('string');
    expect((data.session as string).length).toBeGreaterThan(0);
    expect(data.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    expect(data.params).toEqual({});

    const res = await anon.registerRequest({
      username: 'carol',
      password: PASSWORD,
      auth: { type: 'm.login.dummy', session: data.session as string },
    });
    expect(res.user_id).toBe('@carol:localhost');
    const carol = hs.client({ userId: res.user_id, accessToken: res.access_token!, deviceId: res.device_id! });
    expect((await carol.whoami()).user_id).toBe('@carol:localhost');

    // A completed session is single-use.
    const reused = await matrixError(() =>
      anon.registerRequest({ username: 'carol2', password: PASSWORD, auth: { type: 'm.login.dummy', session: data.session as string } }),
    );
    expect(reused.httpStatus).toBe(400);
  });

  it("registers through the SDK's own InteractiveAuth driver and register() (refresh_token: true)", async () => {
    const anon = hs.client();
    const stages: string[] = [];
    const ia = new sdk.InteractiveAuth<sdk.RegisterResponse>({
      matrixClient: anon,
      doRequest: (auth) => anon.registerRequest({ username: 'dave', password: PASSWORD, ...(auth ? { auth } : {}) }),
      stateUpdated: (stage) => { stages.push(stage); },
      requestEmailToken: () => Promise.reject(new Error('no email stage expected')),
    });
    const res = await ia.attemptAuth();
    expect(res.user_id).toBe('@dave:localhost');
    expect(typeof res.access_token).toBe('string');

    // MatrixClient.register always asks for a refresh token; the server tolerates it.
    const viaRegister = await anon.register('erin', PASSWORD, null, { type: 'm.login.dummy' });
    expect(viaRegister.user_id).toBe('@erin:localhost');
    expect(typeof viaRegister.access_token).toBe('string');
  });

  it('refuses a weak password and an invalid username with the spec errcodes', async () => {
    const anon = hs.client();
    const weak = await matrixError(() => anon.registerRequest({ username: 'frank', password: 'short', auth: { type: 'm.login.dummy' } }));
    expect(weak.httpStatus).toBe(400);
    expect(weak.errcode).toBe('M_WEAK_PASSWORD');
    const bad = await matrixError(() => anon.registerRequest({ username: 'no spaces!', password: PASSWORD, auth: { type: 'm.login.dummy' } }));
    expect(bad.httpStatus).toBe(400);
    expect(bad.errcode).toBe('M_INVALID_USERNAME');
  });

  describe('a registered user', () => {
    let reg: Awaited<ReturnType<E2eServer['registerClient']>>;

    beforeAll(async () => {
      reg = await hs.registerClient('bob', PASSWORD);
    });

    it('logs in with loginRequest (m.id.user localpart) on a fresh device and token', async () => {
      const anon = hs.client();
      const res = await anon.loginRequest({
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'bob' },
        password: PASSWORD,
        initial_device_display_name: 'e2e laptop',
      });
      expect(res.user_id).toBe('@bob:localhost');
      expect(res.access_token).not.toBe(reg.accessToken);
      expect(res.device_id).not.toBe(reg.deviceId);
      expect(res.well_known?.['m.homeserver']?.base_url).toMatch(/^http:\/\//);

      const laptop = hs.client({ userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id });
      expect(await laptop.whoami()).toEqual({ user_id: '@bob:localhost', device_id: res.device_id, is_guest: false });

      const device = await laptop.getDevice(res.device_id);
      expect(device.device_id).toBe(res.device_id);
      expect(device.display_name).toBe('e2e laptop');
    });

    it('logs in with client.login (full user ID), which makes that client authenticated', async () => {
      const c = hs.client();
      const res = await c.login('m.login.password', { identifier: { type: 'm.id.user', user: '@bob:localhost' }, password: PASSWORD });
      expect(res.user_id).toBe('@bob:localhost');
      expect(c.getAccessToken()).toBe(res.access_token);
      const who = await c.whoami();
      expect(who.user_id).toBe('@bob:localhost');
      expect(who.device_id).toBe(res.device_id);
    });

    it('refuses a wrong password with 403 M_FORBIDDEN', async () => {
      const err = await matrixError(() =>
        hs.client().loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'not-the-password' }),
      );
      expect(err.httpStatus).toBe(403);
      expect(err.errcode).toBe('M_FORBIDDEN');
    });

    it('reads the capabilities the issue lists', async () => {
      const caps = await reg.client.getCapabilities();
      expect(caps['m.change_password']).toEqual({ enabled: true });
      expect(caps['m.set_displayname']).toEqual({ enabled: true });
      expect(caps['m.set_avatar_url']).toEqual({ enabled: true });
      expect(caps['m.3pid_changes']).toEqual({ enabled: false });
      const rv = caps['m.room_versions']!;
      expect(typeof rv.default).toBe('string');
      expect(rv.available[rv.default]).toBe('stable');
    });

    it('sets and reads the display name and avatar (profile), visible to others', async () => {
      // Registration gives the localpart as the initial display name.
      expect(await reg.client.getProfileInfo(reg.userId)).toEqual({ displayname: 'bob' });

      await reg.client.setDisplayName('Bob Builder');
      await reg.client.setAvatarUrl('mxc://localhost/bobface');
      expect(await reg.client.getProfileInfo(reg.userId)).toEqual({ displayname: 'Bob Builder', avatar_url: 'mxc://localhost/bobface' });
      expect(await reg.client.getProfileInfo(reg.userId, 'displayname')).toEqual({ displayname: 'Bob Builder' });

      const other = await hs.registerClient('profilereader', PASSWORD);
      expect(await other.client.getProfileInfo(reg.userId)).toEqual({ displayname: 'Bob Builder', avatar_url: 'mxc://localhost/bobface' });

      // Nobody else may change it.
      const err = await matrixError(() =>
        other.client.http.authedRequest(sdk.Method.Put, `/profile/${encodeURIComponent(reg.userId)}/displayname`, undefined, { displayname: 'hijacked' }),
      );
      expect(err.httpStatus).toBe(403);
      expect(err.errcode).toBe('M_FORBIDDEN');
      expect((await reg.client.getProfileInfo(reg.userId, 'displayname')).displayname).toBe('Bob Builder');

      const missing = await matrixError(() => reg.client.getProfileInfo('@nobody:localhost'));
      expect(missing.httpStatus).toBe(404);
      expect(missing.errcode).toBe('M_NOT_FOUND');
    });

    it('lists, renames and reads devices', async () => {
      const { devices } = await reg.client.getDevices();
      const ids = devices.map((d) => d.device_id);
      expect(ids).toContain(reg.deviceId);
      // registration + the two logins above
      expect(devices.length).toBeGreaterThanOrEqual(3);
      expect(new Set(ids).size).toBe(ids.length);

      await reg.client.setDeviceDetails(reg.deviceId, { display_name: 'bob phone' });
      const mine = await reg.client.getDevice(reg.deviceId);
      expect(mine.display_name).toBe('bob phone');
      expect(typeof mine.last_seen_ts).toBe('number');

      const unknown = await matrixError(() => reg.client.getDevice('NOSUCHDEVICE'));
      expect(unknown.httpStatus).toBe(404);
      expect(unknown.errcode).toBe('M_NOT_FOUND');
    });
  });

  it('changes the password through UIA: other devices are logged out, the caller is kept', async () => {
    const me = await hs.registerClient('gina', PASSWORD);
    const other = await hs.client().loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'gina' }, password: PASSWORD });
    const otherClient = hs.client({ userId: other.user_id, accessToken: other.access_token, deviceId: other.device_id });

    const challenge = await matrixError(() => me.client.setPassword({} as sdk.AuthDict, 'a-brand-new-password'));
    expect(challenge.httpStatus).toBe(401);
    const session = (challenge.data as { session?: string }).session;
    expect(typeof session).toBe('string');
    expect((challenge.data as { flows?: unknown }).flows).toEqual([{ stages: ['m.login.password'] }]);

    await me.client.setPassword(
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: me.userId }, password: PASSWORD, session } as sdk.AuthDict,
      'a-brand-new-password',
    );
    expect((await me.client.whoami()).user_id).toBe(me.userId);
    const revoked = await matrixError(() => otherClient.whoami());
    expect(revoked.httpStatus).toBe(401);
    expect(revoked.errcode).toBe('M_UNKNOWN_TOKEN');

    const old = await matrixError(() => hs.client().loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'gina' }, password: PASSWORD }));
    expect(old.errcode).toBe('M_FORBIDDEN');
    const fresh = await hs.client().loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'gina' }, password: 'a-brand-new-password' });
    expect(fresh.user_id).toBe('@gina:localhost');
  });

  it('logs out: that token stops working (M_UNKNOWN_TOKEN, 401), the device is gone, other sessions stay', async () => {
    const reg = await hs.registerClient('hank', PASSWORD);
    const second = await hs.client().loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'hank' }, password: PASSWORD });
    const secondClient = hs.client({ userId: second.user_id, accessToken: second.access_token, deviceId: second.device_id });

    const loggedOut: sdk.MatrixError[] = [];
    reg.client.on(sdk.HttpApiEvent.SessionLoggedOut, (e) => loggedOut.push(e));

    expect(await reg.client.logout(true)).toEqual({});

    const err = await matrixError(() => reg.client.whoami());
    expect(err.httpStatus).toBe(401);
    expect(err.errcode).toBe('M_UNKNOWN_TOKEN');
    // The SDK recognises this as a logged-out session.
    expect(loggedOut.length).toBe(1);
    expect(loggedOut[0]!.errcode).toBe('M_UNKNOWN_TOKEN');

    // The same token through a brand-new client is just as dead.
    const again = await matrixError(() => hs.client({ userId: reg.userId, accessToken: reg.accessToken, deviceId: reg.deviceId }).getDevices());
    expect(again.httpStatus).toBe(401);
    expect(again.errcode).toBe('M_UNKNOWN_TOKEN');

    // The other session still works and no longer sees the logged-out device.
    expect((await secondClient.whoami()).device_id).toBe(second.device_id);
    const { devices } = await secondClient.getDevices();
    expect(devices.map((d) => d.device_id)).toEqual([second.device_id]);

    // Logging in again works and hands out yet another token.
    const back = await hs.client().loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'hank' }, password: PASSWORD });
    expect(back.access_token).not.toBe(reg.accessToken);
    expect(back.access_token).not.toBe(second.access_token);
  });

  it('a request without any token is refused with 401 M_MISSING_TOKEN', async () => {
    const err = await matrixError(() => hs.client().whoami());
    expect(err.httpStatus).toBe(401);
    expect(err.errcode).toBe('M_MISSING_TOKEN');
  });
});
