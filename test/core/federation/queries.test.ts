// FederationRemoteQueries (src/core/federation/queries.ts) over a fake federation client: what it
// asks (path, query, GET or POST), how briefly it caches profiles (an injected clock), how it checks
// answers, and how each failure becomes the Matrix error a client gets.
import { FakeClock } from '../../../src/clock.js';
import { buildConfig } from '../../../src/config.js';
import { FederationError, type FederationClient, type FederationRequest } from '../../../src/core/federation/client.js';
import { FederationRemoteQueries } from '../../../src/core/federation/queries.js';
import { MatrixError } from '../../../src/errors.js';

class FakeClient implements FederationClient {
  requests: FederationRequest[] = [];
  answer: (r: FederationRequest) => Promise<unknown> = async () => ({});
  async request<T>(r: FederationRequest): Promise<T> {
    this.requests.push(r);
    return (await this.answer(r)) as T;
  }
}

const enabled = buildConfig({ server_name: 'me.test', federation: { enabled: true } });

function setup(config = enabled) {
  const clock = new FakeClock();
  const client = new FakeClient();
  return { clock, client, queries: new FederationRemoteQueries(config, client, clock) };
}

/** The Matrix error a promise rejects with, as {status, errcode}. */
async function errorOf(p: Promise<unknown>): Promise<{ status: number; errcode: string }> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof MatrixError)) throw new Error(`expected a MatrixError, got ${String(e)}`);
  return { status: e.status, errcode: e.errcode };
}

const httpError = (status: number, errcode?: string) => new FederationError('remote.test', 'http', `${status}`, status, errcode, errcode ? { errcode, error: 'remote says no' } : undefined);

describe('FederationRemoteQueries.profile', () => {
  it('asks the user\'s server for the whole profile with a signed GET query/profile', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ displayname: 'Rémy', avatar_url: 'mxc://remote.test/a' });
    expect(await queries.profile('@remy:remote.test:8448')).toEqual({ displayname: 'Rémy', avatar_url: 'mxc://remote.test/a' });
    expect(client.requests).toEqual([expect.objectContaining({ destination: 'remote.test:8448', method: 'GET', path: '/_matrix/federation/v1/query/profile', query: { user_id: '@remy:remote.test:8448' } })]);
  });

  it('reuses an answer for a minute, then asks again', async () => {
    const { client, clock, queries } = setup();
    let n = 0;
    client.answer = async () => ({ displayname: `v${++n}` });
    expect(await queries.profile('@a:remote.test')).toEqual({ displayname: 'v1' });
    clock.advance(59_000);
    expect(await queries.profile('@a:remote.test')).toEqual({ displayname: 'v1' });
    clock.advance(1_000);
    expect(await queries.profile('@a:remote.test')).toEqual({ displayname: 'v2' });
    expect(client.requests).toHaveLength(2);
  });

  it('shares one request between concurrent lookups, and does not cache failures', async () => {
    const { client, queries } = setup();
    let fail = true;
    client.answer = async () => {
      if (fail) throw httpError(500);
      return { displayname: 'ok' };
    };
    const both = await Promise.allSettled([queries.profile('@a:remote.test'), queries.profile('@a:remote.test')]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(client.requests).toHaveLength(1);
    fail = false;
    expect(await queries.profile('@a:remote.test')).toEqual({ displayname: 'ok' });
    expect(client.requests).toHaveLength(2);
  });

  it('with federation disabled answers 404 M_NOT_FOUND without asking', async () => {
    const { client, queries } = setup(buildConfig({ server_name: 'me.test' }));
    expect(await errorOf(queries.profile('@a:remote.test'))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    expect(client.requests).toEqual([]);
  });

  it('refuses an answer that is not an object with 502 M_UNKNOWN', async () => {
    const { client, queries } = setup();
    client.answer = async () => ['displayname'];
    expect(await errorOf(queries.profile('@a:remote.test'))).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
  });

  it.each([
    ['the remote\'s 404 M_NOT_FOUND', 404, 'M_NOT_FOUND', httpError(404, 'M_NOT_FOUND')],
    ['the remote\'s 403 M_FORBIDDEN', 403, 'M_FORBIDDEN', httpError(403, 'M_FORBIDDEN')],
    ['the remote\'s 404 M_UNRECOGNIZED (no such endpoint there)', 502, 'M_UNKNOWN', httpError(404, 'M_UNRECOGNIZED')],
    ['the remote\'s 401 (our signature refused: not the client\'s token)', 502, 'M_UNKNOWN', httpError(401, 'M_UNAUTHORIZED')],
    ['the remote\'s 400', 502, 'M_UNKNOWN', httpError(400, 'M_INVALID_PARAM')],
    ['the remote\'s 500', 502, 'M_UNKNOWN', httpError(500)],
    ['an unreachable server', 502, 'M_UNKNOWN', new FederationError('remote.test', 'network', 'connect ECONNREFUSED')],
    ['a failed discovery', 502, 'M_UNKNOWN', new FederationError('remote.test', 'discovery', 'ENOTFOUND')],
    ['a blacklisted address', 502, 'M_UNKNOWN', new FederationError('remote.test', 'blocked', 'blocked')],
    ['a timeout', 504, 'M_UNKNOWN', new FederationError('remote.test', 'timeout', 'timed out')],
    ['a server outside the whitelist', 404, 'M_NOT_FOUND', new FederationError('remote.test', 'forbidden', 'not in domain_whitelist')],
    ['a bad response', 502, 'M_UNKNOWN', new FederationError('remote.test', 'bad_response', 'not JSON')],
    ['any other error', 502, 'M_UNKNOWN', new Error('boom')],
  ])('maps %s to %i %s', async (_what, status, errcode, error) => {
    const { client, queries } = setup();
    client.answer = async () => { throw error; };
    expect(await errorOf(queries.profile('@a:remote.test'))).toEqual({ status, errcode });
  });
});

describe('FederationRemoteQueries.roomAlias', () => {
  it('asks the alias\'s server with GET query/directory, and keeps the valid, distinct servers in order', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ room_id: '!r:remote.test', servers: ['remote.test', 'other.test:8448', 'remote.test', 'not a server!', 42] });
    expect(await queries.roomAlias('#lobby:remote.test')).toEqual({ room_id: '!r:remote.test', servers: ['remote.test', 'other.test:8448'] });
    expect(client.requests).toEqual([expect.objectContaining({ destination: 'remote.test', method: 'GET', path: '/_matrix/federation/v1/query/directory', query: { room_alias: '#lobby:remote.test' } })]);
  });

  it('names the alias\'s server when the answer lists none', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ room_id: '!r:remote.test', servers: [] });
    expect(await queries.roomAlias('#lobby:remote.test:1234')).toEqual({ room_id: '!r:remote.test', servers: ['remote.test:1234'] });
  });

  it('refuses an answer without room_id or servers with 502 M_UNKNOWN', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ servers: ['remote.test'] });
    expect(await errorOf(queries.roomAlias('#a:remote.test'))).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
    client.answer = async () => ({ room_id: 'not-a-room', servers: [] });
    expect(await errorOf(queries.roomAlias('#a:remote.test'))).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
    client.answer = async () => ({ room_id: '!r:remote.test' });
    expect(await errorOf(queries.roomAlias('#a:remote.test'))).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
  });

  it('maps the remote\'s 404 to 404 M_NOT_FOUND', async () => {
    const { client, queries } = setup();
    client.answer = async () => { throw httpError(404, 'M_NOT_FOUND'); };
    expect(await errorOf(queries.roomAlias('#a:remote.test'))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
  });
});

describe('FederationRemoteQueries.publicRooms', () => {
  const room = (id: string) => ({ room_id: id, num_joined_members: 1, world_readable: false, guest_can_join: false, name: id });

  it('lists with a GET when there is no filter, passing limit, since and the network options', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ chunk: [room('!a:r')], next_batch: 'n1', total_room_count_estimate: 9 });
    expect(await queries.publicRooms('remote.test', { limit: 1, since: 's0', includeAllNetworks: true })).toEqual({ chunk: [room('!a:r')], next_batch: 'n1', total_room_count_estimate: 9 });
    expect(client.requests).toEqual([expect.objectContaining({
      destination: 'remote.test', method: 'GET', path: '/_matrix/federation/v1/publicRooms',
      query: { limit: 1, since: 's0', include_all_networks: true, third_party_instance_id: undefined },
    })]);
  });

  it('searches with a POST carrying the filter', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ chunk: [] });
    await queries.publicRooms('remote.test', { limit: 5, term: 'cats', roomTypes: [null, 'm.space'], thirdPartyInstanceId: 'irc' });
    expect(client.requests).toEqual([expect.objectContaining({
      method: 'POST', path: '/_matrix/federation/v1/publicRooms',
      body: { limit: 5, filter: { generic_search_term: 'cats', room_types: [null, 'm.space'] }, third_party_instance_id: 'irc' },
    })]);
  });

  it('drops malformed entries, and estimates the total from the chunk when the answer has none', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ chunk: [room('!a:r'), { room_id: '!b:r' }, 'junk', room('!c:r')], prev_batch: 7 });
    expect(await queries.publicRooms('remote.test', {})).toEqual({ chunk: [room('!a:r'), room('!c:r')], total_room_count_estimate: 2 });
  });

  it('refuses an answer without a chunk with 502 M_UNKNOWN', async () => {
    const { client, queries } = setup();
    client.answer = async () => ({ rooms: [] });
    expect(await errorOf(queries.publicRooms('remote.test', {}))).toEqual({ status: 502, errcode: 'M_UNKNOWN' });
  });

  it('with federation disabled, or a server outside the whitelist, answers 403 M_FORBIDDEN', async () => {
    const off = setup(buildConfig({ server_name: 'me.test' }));
    expect(await errorOf(off.queries.publicRooms('remote.test', {}))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    expect(off.client.requests).toEqual([]);
    const { client, queries } = setup();
    client.answer = async () => { throw new FederationError('remote.test', 'forbidden', 'not in domain_whitelist'); };
    expect(await errorOf(queries.publicRooms('remote.test', {}))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
  });
});
