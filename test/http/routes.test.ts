// buildRouter (src/http/routes.ts): RouteDefs mounted on nested Express routers keep Express's
// matching rules (registration order, 405 for a known path, optional trailing slash, case-insensitive
// literals, percent-decoded parameters), and every mounted route of the real server is reached by a
// request to its own pattern.
import express, { type Request, type Response } from 'express';
import request from 'supertest';
import { mountedRoutes } from '../../src/http/app.js';
import { errorHandler } from '../../src/http/errors.js';
import { buildRouter, legacyR0Aliases, withLegacyR0, type RouteDef } from '../../src/http/routes.js';
import { createLogger } from '../../src/logger.js';
import { expectError, makeTestServer } from '../helpers/server.js';

const echo = (tag: string) => (req: Request, res: Response) => {
  res.json({ tag, params: { ...req.params }, route: res.locals.route });
};
const def = (method: RouteDef['method'], path: string, tag = `${method} ${path}`): RouteDef => ({ method, path, auth: 'none', handler: echo(tag) });

function app(defs: RouteDef[]) {
  const s = makeTestServer();
  const a = express();
  a.use((_req, res, next) => {
    res.locals.hearth = true;
    next();
  });
  a.use('/_matrix/client', buildRouter(s.services, '/_matrix/client', defs, { bodyLimit: 1000 }));
  a.use(errorHandler(createLogger('silent')));
  return { http: request(a), close: () => s.close() };
}

const DEFS: RouteDef[] = [
  def('get', '/v3/rooms/:roomId/state'),
  def('put', '/v3/rooms/:roomId/send/:eventType/:txnId'),
  def('get', '/v3/rooms/:roomId/messages'),
  def('get', '/v3/rooms/:roomId/members'),
  def('post', '/v3/rooms/:roomId/invite'),
  def('get', '/v3/pushrules{/}'),
  def('get', '/v3/user/:userId/filter/:filterId'),
  def('post', '/v3/user/:userId/filter'),
  def('get', '/v3/profile/:userId/displayname', 'displayname'),
  def('get', '/v3/profile/:userId/:field', 'field'),
];

describe('buildRouter', () => {
  const a = app(DEFS);
  afterAll(() => a.close());

  it('matches literals and decodes parameters through nested routers', async () => {
    const res = await a.http.put('/_matrix/client/v3/rooms/!a%3Ahs/send/m.room.message/t%201').send({});
    expect(res.status).toBe(200);
    expect(res.body.params).toEqual({ roomId: '!a:hs', eventType: 'm.room.message', txnId: 't 1' });
    expect(res.body.route).toBe('/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId');
  });

  it('answers 405 M_UNRECOGNIZED for a known path with another method and 404 for unknown paths', async () => {
    expectError(await a.http.post('/_matrix/client/v3/rooms/!r/messages').send({}), 405, 'M_UNRECOGNIZED');
    const miss = await a.http.get('/_matrix/client/v3/rooms/!r/nothing');
    expect(miss.status).toBe(404);
    expect((await a.http.get('/_matrix/client/v3/rooms//messages')).status).toBe(404); // empty parameter
    expect((await a.http.get('/_matrix/client/v3/rooms/!r/messages/extra')).status).toBe(404);
  });

  it('allows a trailing slash and matches literals case-insensitively', async () => {
    expect((await a.http.get('/_matrix/client/v3/pushrules/')).body.tag).toBe('get /v3/pushrules{/}');
    expect((await a.http.get('/_matrix/client/v3/pushrules')).body.tag).toBe('get /v3/pushrules{/}');
    expect((await a.http.get('/_matrix/client/v3/rooms/!r/messages/')).body.tag).toBe('get /v3/rooms/:roomId/messages');
    expect((await a.http.get('/_matrix/client/V3/rooms/!r/MESSAGES')).body.params).toEqual({ roomId: '!r' });
  });

  it('answers HEAD with the GET route', async () => {
    const res = await a.http.head('/_matrix/client/v3/rooms/!r/state');
    expect(res.status).toBe(200);
  });

  it('keeps registration order: the first matching path decides', async () => {
    expect((await a.http.get('/_matrix/client/v3/profile/@u:hs/displayname')).body.tag).toBe('displayname');
    expect((await a.http.get('/_matrix/client/v3/profile/@u:hs/avatar_url')).body).toMatchObject({ tag: 'field', params: { userId: '@u:hs', field: 'avatar_url' } });
  });

  it('tells methods of one path apart', async () => {
    expect((await a.http.post('/_matrix/client/v3/user/@u:hs/filter').send({})).body.tag).toBe('post /v3/user/:userId/filter');
    expect((await a.http.get('/_matrix/client/v3/user/@u:hs/filter/3')).body.params).toEqual({ userId: '@u:hs', filterId: '3' });
  });

  it('refuses malformed percent-encoding with 400 M_INVALID_PARAM', async () => {
    expectError(await a.http.get('/_matrix/client/v3/rooms/%E0%A4%A/messages'), 400, 'M_INVALID_PARAM');
  });

  it('refuses duplicate routes', () => {
    const s = makeTestServer();
    expect(() => buildRouter(s.services, '/x', [def('get', '/a'), def('get', '/A')], { bodyLimit: 10 })).toThrow(/duplicate route GET \/x\/A/);
    return s.close();
  });
});

describe('legacyR0Aliases', () => {
  it('derives an /r0/ route from each v3 route flagged r0, keeping the handler and policy', () => {
    const flagged: RouteDef = { ...def('get', '/v3/devices/:deviceId'), r0: true, guest: true };
    const aliases = legacyR0Aliases([flagged, def('post', '/v3/knock/:roomIdOrAlias'), def('get', '/v1/rooms/:roomId/hierarchy')]);
    expect(aliases).toEqual([{ ...flagged, path: '/r0/devices/:deviceId' }]);
    expect(withLegacyR0([flagged]).map((d) => d.path)).toEqual(['/v3/devices/:deviceId', '/r0/devices/:deviceId']);
  });

  it('refuses an r0 flag on a route that is not under /v3/', () => {
    expect(() => legacyR0Aliases([{ ...def('get', '/v1/x'), r0: true }])).toThrow(/not a \/v3\/ route/);
  });
});

describe('the mounted routes of the server', () => {
  const s = makeTestServer();
  afterAll(() => s.close());

  it('reach every RouteDef by its own pattern (nesting keeps each route reachable)', async () => {
    // Each pattern with its parameters filled in must be answered by that route: the route label the
    // policy middleware records in the metrics is the pattern itself.
    const wrong: string[] = [];
    for (const { prefix, routes } of mountedRoutes(s.services)) {
      for (const r of routes) {
        const pattern = `${prefix === '/' ? '' : prefix}${r.path}`.replace(/\{\/\}$/, '');
        const path = pattern.replace(/:([A-Za-z_]+)/g, (_m, name: string) => `p-${name}`);
        const res = await (s.http as unknown as Record<string, (p: string) => request.Test>)[r.method]!(path).send(r.method === 'get' ? undefined : {});
        const metrics = await s.http.get('/metrics');
        const label = `route="${pattern}"`;
        if (res.status === 404 && res.body.errcode === 'M_UNRECOGNIZED') wrong.push(`${r.method} ${pattern}: 404`);
        else if (res.status === 405) wrong.push(`${r.method} ${pattern}: 405`);
        else if (!metrics.text.includes(label)) wrong.push(`${r.method} ${pattern}: answered by another route`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
