// spec/endpoints.md must list every route the server mounts, and nothing it does not mount; its
// "r0 alias" column must match the /r0/ aliases mounted (client and media routes), which must be
// exactly the operations the official spec had before v1.1 (no x-addedInMatrixVersion).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientRoutes } from '../../src/api/client/index.js';
import { mediaRoutes } from '../../src/api/media/index.js';
import { mountedRoutes } from '../../src/http/app.js';
import { matrixSpecDir } from '../helpers/matrix-spec.js';
import { makeTestServer } from '../helpers/server.js';

/** `/v3/rooms/:roomId/send/:eventType/:txnId` under `/_matrix/client` -> `/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}` */
function docPath(prefix: string, path: string): string {
  const joined = `${prefix === '/' ? '' : prefix}${path}`.replace(/\{\/\}$/, '/');
  return joined.replace(/:([A-Za-z]+)/g, '{$1}');
}

describe('spec/endpoints.md', () => {
  const s = makeTestServer();
  afterAll(() => s.close());
  const doc = readFileSync(new URL('../../spec/endpoints.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(GET|PUT|POST|DELETE) ([^`]+)`.*\|([^|]*)\|$/gm)].map((m) => ({ route: `${m[1]} ${m[2]}`, r0: m[3]!.trim() === 'yes' }));
  const r0Of = (route: string) => route.replace(' /_matrix/client/v3/', ' /_matrix/client/r0/').replace(' /_matrix/media/v3/', ' /_matrix/media/r0/');
  const documented = new Set(rows.flatMap((r) => (r.r0 ? [r.route, r0Of(r.route)] : [r.route])));
  const mounted = new Set(mountedRoutes(s.services).flatMap(({ prefix, routes }) => routes.map((r) => `${r.method.toUpperCase()} ${docPath(prefix, r.path)}`)));

  it('lists every mounted route', () => {
    expect([...mounted].filter((r) => !documented.has(r))).toEqual([]);
  });

  it('lists no route that is not mounted', () => {
    expect([...documented].filter((r) => !mounted.has(r))).toEqual([]);
  });

  it('has one row per route, with an r0 column that only v3 client and media routes fill', () => {
    expect(rows.length).toBe(new Set(rows.map((r) => r.route)).size);
    expect(rows.filter((r) => r.r0 && !r.route.includes(' /_matrix/client/v3/') && !r.route.includes(' /_matrix/media/v3/')).map((r) => r.route)).toEqual([]);
  });

  it('names a test file that exists for every route', () => {
    const files = [...doc.matchAll(/^\| `[A-Z]+ [^`]+`[^|]* \|[^|]*\|[^|]*\| `([^`]+)` \|/gm)].map((m) => m[1]!);
    expect(files.length).toBe(rows.length);
    for (const file of files) expect(() => readFileSync(new URL(`../../${file}`, import.meta.url))).not.toThrow();
  });
});

describe('r0 aliases', () => {
  const s = makeTestServer();
  afterAll(() => s.close());
  const spec = JSON.parse(readFileSync(join(matrixSpecDir(), 'bundled', 'client-server.json'), 'utf8')) as {
    paths: Record<string, Record<string, { 'x-addedInMatrixVersion'?: string }>>;
  };
  /** The official operation of a v3 client (or media) route, or undefined when the spec has none (Hearth's own). */
  const operation = (method: string, path: string, prefix = '/_matrix/client') => {
    // `/state/{eventType}` is the spec's `/state/{eventType}/{stateKey}` with an empty state key.
    const p = `${prefix}${path.replace(/\/state\/:eventType$/, '/state/:eventType/:stateKey')}`.replace(/\{\/\}$/, '/').replace(/:([A-Za-z]+)/g, '{$1}');
    // The spec names some parameters differently (e.g. {kind}); compare the shapes.
    const shape = (x: string) => x.replace(/\{[^}]+\}/g, '{}');
    const key = Object.keys(spec.paths).find((k) => shape(k) === shape(p) || shape(k) === shape(p.replace(/\/$/, '')));
    return key === undefined ? undefined : spec.paths[key]![method];
  };

  it('are exactly the v3 operations the spec had before v1.1', () => {
    const wrong: string[] = [];
    for (const r of clientRoutes(s.services)) {
      if (!r.path.startsWith('/v3/')) {
        if (r.r0) wrong.push(`${r.method} ${r.path}: not a v3 route`);
        continue;
      }
      const op = operation(r.method, r.path);
      const legacy = op !== undefined && op['x-addedInMatrixVersion'] === undefined;
      if (legacy !== (r.r0 === true)) wrong.push(`${r.method} ${r.path}: r0 ${String(r.r0)}, spec ${op === undefined ? 'none' : op['x-addedInMatrixVersion'] ?? 'r0'}`);
    }
    expect(wrong).toEqual([]);
  });

  it('of the media repository are exactly its v3 operations the spec had before v1.1', () => {
    const wrong: string[] = [];
    for (const r of mediaRoutes(s.services)) {
      const op = r.path.startsWith('/v3/') ? operation(r.method, r.path, '/_matrix/media') : undefined;
      const legacy = op !== undefined && op['x-addedInMatrixVersion'] === undefined;
      if (legacy !== (r.r0 === true)) wrong.push(`${r.method} ${r.path}: r0 ${String(r.r0)}, spec ${op === undefined ? 'none' : op['x-addedInMatrixVersion'] ?? 'r0'}`);
    }
    expect(wrong).toEqual([]);
  });

  it('answer like the v3 route, under their own route label', async () => {
    const u = await s.register('rzero');
    const v3 = await s.http.get('/_matrix/client/v3/account/whoami').set({ Authorization: `Bearer ${u.accessToken}` });
    const r0 = await s.http.get('/_matrix/client/r0/account/whoami').set({ Authorization: `Bearer ${u.accessToken}` });
    expect(r0.status).toBe(200);
    expect(r0.body).toEqual(v3.body);
    const metrics = await s.http.get('/metrics');
    expect(metrics.text).toContain('route="/_matrix/client/r0/account/whoami"');
    expect(metrics.text).toContain('route="/_matrix/client/v3/account/whoami"');
  });

  it('do not exist for routes added after r0 (404 M_UNRECOGNIZED)', async () => {
    const u = await s.register('rzero2');
    const knock = await s.http.post('/_matrix/client/r0/knock/!x:test.local').set({ Authorization: `Bearer ${u.accessToken}` }).send({});
    expect({ status: knock.status, errcode: knock.body.errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
    const sessions = await s.http.get('/_matrix/client/r0/unstable/hearth/sessions').set({ Authorization: `Bearer ${u.accessToken}` });
    expect({ status: sessions.status, errcode: sessions.body.errcode }).toEqual({ status: 404, errcode: 'M_UNRECOGNIZED' });
  });

  it('leave a route without an alias a 405 when only another method had one', async () => {
    const u = await s.register('rzero3');
    // GET/PUT /profile/{userId}/{keyName} existed in r0, DELETE did not.
    const del = await s.http.delete(`/_matrix/client/r0/profile/${encodeURIComponent(u.userId)}/displayname`).set({ Authorization: `Bearer ${u.accessToken}` });
    expect({ status: del.status, errcode: del.body.errcode }).toEqual({ status: 405, errcode: 'M_UNRECOGNIZED' });
  });
});
