// spec/endpoints.md must list every route the server mounts, and nothing it does not mount.
import { readFileSync } from 'node:fs';
import { mountedRoutes } from '../../src/http/app.js';
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
  const documented = new Set([...doc.matchAll(/^\| `(GET|PUT|POST|DELETE) ([^`]+)`/gm)].map((m) => `${m[1]} ${m[2]}`));
  const mounted = new Set(mountedRoutes(s.services).flatMap(({ prefix, routes }) => routes.map((r) => `${r.method.toUpperCase()} ${docPath(prefix, r.path)}`)));

  it('lists every mounted route', () => {
    expect([...mounted].filter((r) => !documented.has(r))).toEqual([]);
  });

  it('lists no route that is not mounted', () => {
    expect([...documented].filter((r) => !mounted.has(r))).toEqual([]);
  });

  it('names a test file that exists for every route', () => {
    const rows = [...doc.matchAll(/^\| `[A-Z]+ [^`]+`[^|]* \|[^|]*\|[^|]*\| `([^`]+)` \|/gm)].map((m) => m[1]!);
    expect(rows.length).toBe(documented.size);
    for (const file of rows) expect(() => readFileSync(new URL(`../../${file}`, import.meta.url))).not.toThrow();
  });
});
