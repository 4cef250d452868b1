// The admin API of the media repository (Synapse admin API paths and shapes; spec/admin.md):
// quarantine (quarantined media answers 404 M_NOT_FOUND everywhere), deletion, and a user's media.
import sharp from 'sharp';
import { bearer, expectError, makeTestServer, type TestUser } from '../../helpers/server.js';
import { MediaService } from '../../../src/core/media/service.js';

const s = makeTestServer({ presence: { enabled: false }, media: { allow_legacy_unauthenticated: true } });
afterAll(() => s.close());

const CLIENT = '/_matrix/client/v1/media';
const enc = encodeURIComponent;
let n = 0;
const user = (name = 'alice') => s.register(`${name}${++n}`);
async function admin(): Promise<TestUser> {
  const a = await user('admin');
  await s.services.accounts.setAdmin(a.userId, true);
  return a;
}
async function upload(u: TestUser, body: Buffer | string, contentType: string, filename?: string): Promise<string> {
  const r = await s.http.post('/_matrix/media/v3/upload').query(filename ? { filename } : {}).set(bearer(u)).set('Content-Type', contentType).send(body);
  expect(r.status).toBe(200);
  return (r.body.content_uri as string).split('/').pop()!;
}
const image = () => sharp({ create: { width: 300, height: 300, channels: 3, background: { r: 0, g: 200, b: 0 } } }).png().toBuffer();

describe('POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}', () => {
  it('makes the media answer 404 M_NOT_FOUND for downloads and thumbnails, authenticated or legacy; unquarantine undoes it', async () => {
    const a = await admin();
    const u = await user();
    const id = await upload(u, await image(), 'image/png');
    expect((await s.http.get(`${CLIENT}/thumbnail/test.local/${id}`).query({ width: 32, height: 32, method: 'crop' }).set(bearer(u))).status).toBe(200);
    const q = await s.http.post(`/_synapse/admin/v1/media/quarantine/test.local/${id}`).set(bearer(a)).send({});
    expect(q.status).toBe(200);
    expect(q.body).toEqual({});
    expectError(await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`${CLIENT}/thumbnail/test.local/${id}`).query({ width: 32, height: 32, method: 'crop' }).set(bearer(u)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`/_matrix/media/v3/download/test.local/${id}`), 404, 'M_NOT_FOUND');
    const listed = await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).set(bearer(a));
    expect(listed.body.media[0].quarantined_by).toBe(a.userId);
    expect((await s.http.post(`/_synapse/admin/v1/media/unquarantine/test.local/${id}`).set(bearer(a)).send({})).status).toBe(200);
    expect((await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u))).status).toBe(200);
  });

  it('answers 404 for unknown media and 403 for users who are not admins', async () => {
    const a = await admin();
    const u = await user();
    const id = await upload(u, 'x', 'text/plain');
    expectError(await s.http.post('/_synapse/admin/v1/media/quarantine/test.local/AAAAAAAAAAAAAAAAAAAAAAAA').set(bearer(a)).send({}), 404, 'M_NOT_FOUND');
    expectError(await s.http.post(`/_synapse/admin/v1/media/quarantine/test.local/${id}`).set(bearer(u)).send({}), 403, 'M_FORBIDDEN');
  });
});

describe('DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}', () => {
  it('deletes the record, the bytes and the thumbnails', async () => {
    const a = await admin();
    const u = await user();
    const id = await upload(u, await image(), 'image/png');
    await s.http.get(`${CLIENT}/thumbnail/test.local/${id}`).query({ width: 96, height: 96, method: 'crop' }).set(bearer(u));
    const thumb = await s.services.storage.media.getThumbnail('test.local', id, 96, 96, 'crop', false);
    expect(thumb).toBeDefined();
    const r = await s.http.delete(`/_synapse/admin/v1/media/test.local/${id}`).set(bearer(a));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ deleted_media: [id], total: 1 });
    expectError(await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u)), 404, 'M_NOT_FOUND');
    // The bytes are gone from the store, thumbnails included.
    const store = (s.services.media as unknown as { store: { size(k: string): Promise<number | undefined> } }).store;
    expect(await store.size(MediaService.storeKey('test.local', id))).toBeUndefined();
    expect(await store.size(thumb!.storeKey)).toBeUndefined();
    expectError(await s.http.delete(`/_synapse/admin/v1/media/test.local/${id}`).set(bearer(a)), 404, 'M_NOT_FOUND');
  });

  it('deletes local media only', async () => {
    const a = await admin();
    expectError(await s.http.delete('/_synapse/admin/v1/media/elsewhere.example/AAAA').set(bearer(a)), 400, 'M_INVALID_PARAM');
  });
});

describe('GET /_synapse/admin/v1/users/{userId}/media', () => {
  it('lists a user\'s uploads in Synapse\'s shape, ordered and paged', async () => {
    const a = await admin();
    const u = await user();
    const first = await upload(u, 'aaaa', 'text/plain', 'b.txt');
    s.clock.advance(1000);
    const second = await upload(u, 'bb', 'text/plain', 'a.txt');
    await s.http.post('/_matrix/media/v1/create').set(bearer(u)).send({}); // reserved, not uploaded: not listed
    const r = await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).set(bearer(a));
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(2);
    expect(r.body.next_token).toBeUndefined();
    expect(r.body.media).toEqual([
      { created_ts: expect.any(Number), last_access_ts: null, media_id: first, media_length: 4, media_type: 'text/plain', quarantined_by: null, safe_from_quarantine: false, upload_name: 'b.txt' },
      { created_ts: expect.any(Number), last_access_ts: null, media_id: second, media_length: 2, media_type: 'text/plain', quarantined_by: null, safe_from_quarantine: false, upload_name: 'a.txt' },
    ]);
    const byName = await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).query({ order_by: 'upload_name' }).set(bearer(a));
    expect(byName.body.media.map((m: { media_id: string }) => m.media_id)).toEqual([second, first]);
    const page = await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).query({ limit: 1, dir: 'b' }).set(bearer(a));
    expect(page.body).toMatchObject({ total: 2, next_token: 1 });
    expect(page.body.media.map((m: { media_id: string }) => m.media_id)).toEqual([second]);
  });

  it('records the last access of a download', async () => {
    const a = await admin();
    const u = await user();
    const id = await upload(u, 'x', 'text/plain');
    await s.http.get(`${CLIENT}/download/test.local/${id}`).set(bearer(u));
    const r = await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).set(bearer(a));
    expect(r.body.media[0].last_access_ts).toBe(s.clock.now());
  });

  it('refuses unknown users (404), other servers\' users and bad parameters (400), non-admins (403)', async () => {
    const a = await admin();
    const u = await user();
    expectError(await s.http.get(`/_synapse/admin/v1/users/${enc('@nobody:test.local')}/media`).set(bearer(a)), 404, 'M_NOT_FOUND');
    expectError(await s.http.get(`/_synapse/admin/v1/users/${enc('@x:elsewhere.example')}/media`).set(bearer(a)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).query({ order_by: 'size' }).set(bearer(a)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).query({ dir: 'x' }).set(bearer(a)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(`/_synapse/admin/v1/users/${enc(u.userId)}/media`).set(bearer(u)), 403, 'M_FORBIDDEN');
  });
});
