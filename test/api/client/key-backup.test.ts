// Server-side key backups (matrix-spec: key_backup.yaml; client-server-api "Server-side key
// backups"): versions (create, current, by number, update, delete), keys in all three forms, etag and
// count, the "replace only with a better key" rule, and M_WRONG_ROOM_KEYS_VERSION.
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
const enc = encodeURIComponent;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let n = 0;
const user = (name = 'alice') => s.register(`${name}${++n}`);
const createVersion = async (u: TestUser, authData: Json = { public_key: 'abcdefg', signatures: {} }) => {
  const r = await s.http.post(`${C}/room_keys/version`).set(bearer(u)).send({ algorithm: ALGORITHM, auth_data: authData });
  expect(r.status).toBe(200);
  return r.body.version as string;
};
const keyData = (first: number, forwarded: number, verified: boolean, tag = 'x') => ({
  first_message_index: first, forwarded_count: forwarded, is_verified: verified, session_data: { ephemeral: 'e', ciphertext: tag, mac: 'm' },
});
const putSession = (u: TestUser, version: string, roomId: string, sessionId: string, data: Json) =>
  s.http.put(`${C}/room_keys/keys/${enc(roomId)}/${enc(sessionId)}`).query({ version }).set(bearer(u)).send(data);
const getSession = (u: TestUser, version: string, roomId: string, sessionId: string) =>
  s.http.get(`${C}/room_keys/keys/${enc(roomId)}/${enc(sessionId)}`).query({ version }).set(bearer(u));

describe('room_keys/version', () => {
  it('creates numbered versions; the newest is current', async () => {
    const u = await user();
    expectError(await s.http.get(`${C}/room_keys/version`).set(bearer(u)), 404, 'M_NOT_FOUND');
    const v1 = await createVersion(u, { public_key: 'one' });
    const v2 = await createVersion(u, { public_key: 'two' });
    expect([v1, v2]).toEqual(['1', '2']);
    const current = await s.http.get(`${C}/room_keys/version`).set(bearer(u));
    expect(current.status).toBe(200);
    expect(current.body).toEqual({ algorithm: ALGORITHM, auth_data: { public_key: 'two' }, count: 0, etag: '0', version: '2' });
    expect((await s.http.get(`${C}/room_keys/version/1`).set(bearer(u))).body.auth_data).toEqual({ public_key: 'one' });
  });

  it('keeps each user\'s backups to themselves', async () => {
    const alice = await user();
    const bob = await user('bob');
    await createVersion(alice);
    expectError(await s.http.get(`${C}/room_keys/version`).set(bearer(bob)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`${C}/room_keys/version/1`).set(bearer(bob)), 404, 'M_NOT_FOUND');
  });

  it('refuses unknown algorithms and missing auth_data', async () => {
    const u = await user();
    expectError(await s.http.post(`${C}/room_keys/version`).set(bearer(u)).send({ algorithm: 'm.unknown', auth_data: {} }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.post(`${C}/room_keys/version`).set(bearer(u)).send({ algorithm: ALGORITHM }), 400, 'M_MISSING_PARAM');
  });

  it('updates only auth_data, with the same algorithm and version', async () => {
    const u = await user();
    const v = await createVersion(u);
    const ok = await s.http.put(`${C}/room_keys/version/${v}`).set(bearer(u)).send({ algorithm: ALGORITHM, auth_data: { public_key: 'new' }, version: v });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({});
    expect((await s.http.get(`${C}/room_keys/version/${v}`).set(bearer(u))).body.auth_data).toEqual({ public_key: 'new' });
    expectError(await s.http.put(`${C}/room_keys/version/${v}`).set(bearer(u)).send({ algorithm: ALGORITHM, auth_data: {}, version: '99' }), 400, 'M_INVALID_PARAM');
    expectError(await s.http.put(`${C}/room_keys/version/99`).set(bearer(u)).send({ algorithm: ALGORITHM, auth_data: {} }), 404, 'M_NOT_FOUND');
  });

  it('deletes a version with its keys; deleting it again succeeds, an unknown one is 404; numbers are not reused', async () => {
    const u = await user();
    const v1 = await createVersion(u);
    await putSession(u, v1, '!r:test.local', 'S', keyData(0, 0, true));
    const del = await s.http.delete(`${C}/room_keys/version/${v1}`).set(bearer(u));
    expect(del.status).toBe(200);
    expect(del.body).toEqual({});
    expect((await s.http.delete(`${C}/room_keys/version/${v1}`).set(bearer(u))).status).toBe(200);
    expectError(await s.http.delete(`${C}/room_keys/version/7`).set(bearer(u)), 404, 'M_NOT_FOUND');
    expectError(await s.http.delete(`${C}/room_keys/version/not-a-number`).set(bearer(u)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`${C}/room_keys/version/${v1}`).set(bearer(u)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`${C}/room_keys/version`).set(bearer(u)), 404, 'M_NOT_FOUND');
    expect(await createVersion(u)).toBe('2');
  });
});

describe('room_keys/keys', () => {
  it('stores keys in all three forms and answers the etag and count', async () => {
    const u = await user();
    const v = await createVersion(u);
    const one = await putSession(u, v, '!a:test.local', 'S1', keyData(0, 0, false));
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ etag: '1', count: 1 });
    const room = await s.http.put(`${C}/room_keys/keys/${enc('!a:test.local')}`).query({ version: v }).set(bearer(u)).send({ sessions: { S2: keyData(0, 0, false) } });
    expect(room.body).toEqual({ etag: '2', count: 2 });
    const all = await s.http.put(`${C}/room_keys/keys`).query({ version: v }).set(bearer(u)).send({ rooms: { '!b:test.local': { sessions: { S3: keyData(1, 0, true) } } } });
    expect(all.body).toEqual({ etag: '3', count: 3 });
    const info = (await s.http.get(`${C}/room_keys/version`).set(bearer(u))).body;
    expect(info).toMatchObject({ count: 3, etag: '3' });

    const everything = await s.http.get(`${C}/room_keys/keys`).query({ version: v }).set(bearer(u));
    expect(everything.body).toEqual({ rooms: {
      '!a:test.local': { sessions: { S1: keyData(0, 0, false), S2: keyData(0, 0, false) } },
      '!b:test.local': { sessions: { S3: keyData(1, 0, true) } },
    } });
    expect((await s.http.get(`${C}/room_keys/keys/${enc('!b:test.local')}`).query({ version: v }).set(bearer(u))).body).toEqual({ sessions: { S3: keyData(1, 0, true) } });
    expect((await s.http.get(`${C}/room_keys/keys/${enc('!none:test.local')}`).query({ version: v }).set(bearer(u))).body).toEqual({ sessions: {} });
    expect((await getSession(u, v, '!a:test.local', 'S1')).body).toEqual(keyData(0, 0, false));
    expectError(await getSession(u, v, '!a:test.local', 'NOPE'), 404, 'M_NOT_FOUND');
  });

  it('replaces a key only with a better one: verified, then lower first index, then fewer forwards', async () => {
    const u = await user();
    const v = await createVersion(u);
    const R = '!r:test.local';
    await putSession(u, v, R, 'S', keyData(5, 2, false, 'first'));
    const stored = async () => (await getSession(u, v, R, 'S')).body.session_data.ciphertext as string;
    // Worse or equal: kept, etag unchanged.
    const worse = await putSession(u, v, R, 'S', keyData(6, 0, false, 'later index'));
    expect(worse.body).toEqual({ etag: '1', count: 1 });
    await putSession(u, v, R, 'S', keyData(5, 2, false, 'same'));
    expect(await stored()).toBe('first');
    // Fewer forwards at the same index.
    await putSession(u, v, R, 'S', keyData(5, 1, false, 'fewer forwards'));
    expect(await stored()).toBe('fewer forwards');
    // A lower first index beats forwards.
    await putSession(u, v, R, 'S', keyData(3, 9, false, 'lower index'));
    expect(await stored()).toBe('lower index');
    // Verified beats everything; an unverified key never replaces it.
    await putSession(u, v, R, 'S', keyData(10, 10, true, 'verified'));
    expect(await stored()).toBe('verified');
    await putSession(u, v, R, 'S', keyData(0, 0, false, 'unverified'));
    expect(await stored()).toBe('verified');
    expect((await s.http.get(`${C}/room_keys/version`).set(bearer(u))).body).toMatchObject({ count: 1, etag: '4' });
  });

  it('writes only to the current version (403 M_WRONG_ROOM_KEYS_VERSION naming it), reads any', async () => {
    const u = await user();
    const v1 = await createVersion(u);
    await putSession(u, v1, '!r:test.local', 'S', keyData(0, 0, false));
    const v2 = await createVersion(u);
    const wrong = await putSession(u, v1, '!r:test.local', 'T', keyData(0, 0, false));
    expectError(wrong, 403, 'M_WRONG_ROOM_KEYS_VERSION');
    expect(wrong.body.current_version).toBe(v2);
    expectError(await putSession(u, 'bogus', '!r:test.local', 'T', keyData(0, 0, false)), 403, 'M_WRONG_ROOM_KEYS_VERSION');
    expect((await getSession(u, v1, '!r:test.local', 'S')).status).toBe(200);
  });

  it('answers 404 without any backup, and 400 without a version parameter', async () => {
    const u = await user();
    expectError(await putSession(u, '1', '!r:test.local', 'S', keyData(0, 0, false)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`${C}/room_keys/keys`).query({ version: '1' }).set(bearer(u)), 404, 'M_NOT_FOUND');
    await createVersion(u);
    expectError(await s.http.get(`${C}/room_keys/keys`).set(bearer(u)), 400, 'M_MISSING_PARAM');
    expectError(await s.http.put(`${C}/room_keys/keys`).set(bearer(u)).send({ rooms: {} }), 400, 'M_MISSING_PARAM');
  });

  it('refuses malformed key data', async () => {
    const u = await user();
    const v = await createVersion(u);
    expectError(await putSession(u, v, '!r:test.local', 'S', { first_message_index: -1, forwarded_count: 0, is_verified: false, session_data: {} }), 400, 'M_BAD_JSON');
    expectError(await putSession(u, v, '!r:test.local', 'S', { first_message_index: 0, forwarded_count: 0, is_verified: 'yes', session_data: {} }), 400, 'M_BAD_JSON');
    expectError(await s.http.put(`${C}/room_keys/keys`).query({ version: v }).set(bearer(u)).send({ rooms: { '!r:test.local': {} } }), 400, 'M_BAD_JSON');
  });

  it('deletes keys in all three forms, moving the etag on', async () => {
    const u = await user();
    const v = await createVersion(u);
    await s.http.put(`${C}/room_keys/keys`).query({ version: v }).set(bearer(u)).send({ rooms: {
      '!a:test.local': { sessions: { S1: keyData(0, 0, false), S2: keyData(0, 0, false) } },
      '!b:test.local': { sessions: { S3: keyData(0, 0, false) } },
      '!c:test.local': { sessions: { S4: keyData(0, 0, false) } },
    } });
    const one = await s.http.delete(`${C}/room_keys/keys/${enc('!a:test.local')}/S1`).query({ version: v }).set(bearer(u));
    expect(one.body).toEqual({ etag: '2', count: 3 });
    const room = await s.http.delete(`${C}/room_keys/keys/${enc('!a:test.local')}`).query({ version: v }).set(bearer(u));
    expect(room.body).toEqual({ etag: '3', count: 2 });
    const nothing = await s.http.delete(`${C}/room_keys/keys/${enc('!a:test.local')}`).query({ version: v }).set(bearer(u));
    expect(nothing.body).toEqual({ etag: '3', count: 2 });
    const all = await s.http.delete(`${C}/room_keys/keys`).query({ version: v }).set(bearer(u));
    expect(all.body).toEqual({ etag: '4', count: 0 });
    expectError(await s.http.delete(`${C}/room_keys/keys`).query({ version: '9' }).set(bearer(u)), 404, 'M_NOT_FOUND');
  });
});
