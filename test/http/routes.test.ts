// The route table (src/http/routes.ts): the matching rules Express's router had, kept when the
// table replaced it (registration order, 405 for a known path, optional trailing slash,
// case-insensitive literals, percent-decoded parameters).
import { MatrixError } from '../../src/errors.js';
import { RouteTable, type RouteDef } from '../../src/http/routes.js';

const def = (method: RouteDef['method'], path: string): RouteDef => ({ method, path, handler: () => {} });

function table(): RouteTable {
  const t = new RouteTable();
  t.add('/_matrix/client', [
    def('get', '/v3/rooms/:roomId/state'),
    def('put', '/v3/rooms/:roomId/send/:eventType/:txnId'),
    def('get', '/v3/rooms/:roomId/messages'),
    def('get', '/v3/pushrules{/}'),
    def('get', '/v3/user/:userId/filter/:filterId'),
    def('post', '/v3/user/:userId/filter'),
  ]);
  t.add('/', [def('get', '/_synapse/admin/v1/rooms')]);
  return t;
}

describe('RouteTable', () => {
  it('matches literals and decodes parameters', () => {
    const m = table().match('PUT', '/_matrix/client/v3/rooms/!a%3Ahs/send/m.room.message/t%201');
    expect(m?.entry.pattern).toBe('/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId');
    expect(m?.def?.method).toBe('put');
    expect(m?.params).toEqual({ roomId: '!a:hs', eventType: 'm.room.message', txnId: 't 1' });
  });

  it('finds a known path with another method (the app answers 405) and misses unknown paths', () => {
    const t = table();
    const m = t.match('POST', '/_matrix/client/v3/rooms/!r/messages');
    expect(m).toBeDefined();
    expect(m?.def).toBeUndefined();
    expect(t.match('GET', '/_matrix/client/v3/rooms/!r/nothing')).toBeUndefined();
    expect(t.match('GET', '/_matrix/client/v3/rooms//messages')).toBeUndefined(); // empty parameter
    expect(t.match('GET', '/_matrix/client/v3/rooms/!r/messages/extra')).toBeUndefined();
  });

  it('allows one trailing slash and matches literals case-insensitively', () => {
    const t = table();
    expect(t.match('GET', '/_matrix/client/v3/pushrules/')?.def?.path).toBe('/v3/pushrules{/}');
    expect(t.match('GET', '/_matrix/client/v3/pushrules')?.def?.path).toBe('/v3/pushrules{/}');
    expect(t.match('GET', '/_matrix/client/v3/rooms/!r/messages/')?.def?.path).toBe('/v3/rooms/:roomId/messages');
    expect(t.match('GET', '/_MATRIX/Client/v3/rooms/!r/MESSAGES')?.params).toEqual({ roomId: '!r' });
  });

  it('answers HEAD with the GET route and mounts the root prefix without a double slash', () => {
    const t = table();
    expect(t.match('HEAD', '/_synapse/admin/v1/rooms')?.def?.method).toBe('get');
    expect(t.match('GET', '/_synapse/admin/v1/rooms')?.entry.pattern).toBe('/_synapse/admin/v1/rooms');
  });

  it('tells methods of one path apart', () => {
    const t = table();
    expect(t.match('POST', '/_matrix/client/v3/user/@u:hs/filter')?.def?.method).toBe('post');
    expect(t.match('GET', '/_matrix/client/v3/user/@u:hs/filter/3')?.params).toEqual({ userId: '@u:hs', filterId: '3' });
  });

  it('refuses malformed percent-encoding with 400 M_INVALID_PARAM', () => {
    let err: unknown;
    try {
      table().match('GET', '/_matrix/client/v3/rooms/%E0%A4%A/messages');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).status).toBe(400);
    expect((err as MatrixError).errcode).toBe('M_INVALID_PARAM');
  });

  it('refuses duplicate routes and path syntax it does not support', () => {
    const t = new RouteTable();
    t.add('/x', [def('get', '/a')]);
    expect(() => t.add('/x', [def('get', '/a')])).toThrow(/duplicate route GET \/x\/a/);
    expect(() => t.add('/x', [def('get', '/b/*rest')])).toThrow(/unsupported route segment/);
  });
});
