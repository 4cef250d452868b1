// Discovery: /versions, /capabilities, .well-known and the federation version
// (matrix-spec: versions.yaml#getVersions, capabilities.yaml#getCapabilities, wellknown.yaml#getWellknown,
//  server-server/version.yaml#getVersion).
import { readFileSync } from 'node:fs';
import { makeTestServer, bearer } from '../../helpers/server.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('GET /_matrix/client/versions', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('answers without an access token with spec versions and unstable_features', async () => {
    const res = await s.http.get('/_matrix/client/versions');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['unstable_features', 'versions']);
    expect(Array.isArray(res.body.versions)).toBe(true);
    expect(res.body.versions).toContain('v1.1');
    for (const v of res.body.versions) expect(v).toMatch(/^v1\.\d+$/);
    expect(new Set(res.body.versions).size).toBe(res.body.versions.length);
    expect(typeof res.body.unstable_features).toBe('object');
    for (const flag of Object.values(res.body.unstable_features)) expect(typeof flag).toBe('boolean');
  });

  it('answers the same with a valid access token', async () => {
    const u = await s.register('versionsuser');
    const anon = await s.http.get('/_matrix/client/versions');
    const authed = await s.http.get('/_matrix/client/versions').set(bearer(u));
    expect(authed.status).toBe(200);
    expect(authed.body).toEqual(anon.body);
  });

  it('answers a guest too', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const res = await s.http.get('/_matrix/client/versions').set(bearer({ accessToken: g.body.access_token }));
    expect(res.status).toBe(200);
  });

  it('carries the CORS header', async () => {
    const res = await s.http.get('/_matrix/client/versions').set('Origin', 'https://app.example');
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('GET /_matrix/client/v3/capabilities', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('lists the account capabilities and room versions', async () => {
    const u = await s.register('capsuser');
    const res = await s.http.get('/_matrix/client/v3/capabilities').set(bearer(u));
    expect(res.status).toBe(200);
    const caps = res.body.capabilities;
    expect(caps['m.change_password']).toEqual({ enabled: true });
    expect(caps['m.set_displayname']).toEqual({ enabled: true });
    expect(caps['m.set_avatar_url']).toEqual({ enabled: true });
    expect(caps['m.3pid_changes']).toEqual({ enabled: false });
    expect(caps['m.room_versions'].default).toBe('12');
    expect(caps['m.room_versions'].available).toMatchObject({ '10': 'stable', '11': 'stable', '12': 'stable' });
    expect(caps['m.room_versions'].available[caps['m.room_versions'].default]).toBe('stable');
  });

  it('answers a guest', async () => {
    const g = await s.http.post('/_matrix/client/v3/register').query({ kind: 'guest' }).send({});
    const res = await s.http.get('/_matrix/client/v3/capabilities').set(bearer({ accessToken: g.body.access_token }));
    expect(res.status).toBe(200);
    expect(res.body.capabilities['m.change_password']).toEqual({ enabled: true });
  });

  it('refuses a request without a token with 401 M_MISSING_TOKEN', async () => {
    const res = await s.http.get('/_matrix/client/v3/capabilities');
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('refuses an unknown token with 401 M_UNKNOWN_TOKEN', async () => {
    const res = await s.http.get('/_matrix/client/v3/capabilities').set(bearer({ accessToken: 'nope' }));
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('GET /.well-known/matrix/client', () => {
  it('points at the listen address when no public_baseurl is set', async () => {
    const s = makeTestServer();
    try {
      const res = await s.http.get('/.well-known/matrix/client');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ 'm.homeserver': { base_url: 'http://127.0.0.1:8008' } });
    } finally {
      await s.close();
    }
  });

  it('uses public_baseurl without its trailing slash', async () => {
    const s = makeTestServer({ public_baseurl: 'https://matrix.example.org/' });
    try {
      const res = await s.http.get('/.well-known/matrix/client');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ 'm.homeserver': { base_url: 'https://matrix.example.org' } });
    } finally {
      await s.close();
    }
  });

  it('uses the listen host and port from the config', async () => {
    const s = makeTestServer({ listen: { host: '10.1.2.3', port: 9999 } });
    try {
      const res = await s.http.get('/.well-known/matrix/client');
      expect(res.body).toEqual({ 'm.homeserver': { base_url: 'http://10.1.2.3:9999' } });
    } finally {
      await s.close();
    }
  });

  it('is served with a JSON content type and the CORS header, without a token', async () => {
    const s = makeTestServer();
    try {
      const res = await s.http.get('/.well-known/matrix/client');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await s.close();
    }
  });
});

describe('GET /_matrix/federation/v1/version', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('names the server and reports the package.json version', async () => {
    const res = await s.http.get('/_matrix/federation/v1/version');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ server: { name: 'Hearth', version: pkg.version } });
  });
});
