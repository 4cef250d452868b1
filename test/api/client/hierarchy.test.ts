// The space hierarchy (matrix-spec: space_hierarchy.yaml#getSpaceHierarchy; modules/spaces.md):
// GET /_matrix/client/v1/rooms/{roomId}/hierarchy walks m.space.child events depth-first, in the
// spec's child order, listing only rooms the user may see, with suggested_only, max_depth and
// limit/from pagination. Responses are checked against the official schema.
import { SpecSchemas } from '../../helpers/spec-schemas.js';
import { makeTestServer, bearer, expectError, type TestServer, type TestUser } from '../../helpers/server.js';

const enc = encodeURIComponent;
const C = '/_matrix/client/v3';
const hierarchy = (roomId: string) => `/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy`;

async function room(s: TestServer, u: TestUser, body: object): Promise<string> {
  const r = await s.http.post(`${C}/createRoom`).set(bearer(u)).send(body);
  if (r.status !== 200) throw new Error(`createRoom: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id as string;
}

async function child(s: TestServer, u: TestUser, space: string, childId: string, content: object = { via: ['test.local'] }): Promise<void> {
  const r = await s.http.put(`${C}/rooms/${enc(space)}/state/m.space.child/${enc(childId)}`).set(bearer(u)).send(content);
  if (r.status !== 200) throw new Error(`m.space.child: ${r.status} ${JSON.stringify(r.body)}`);
}

describe('GET /_matrix/client/v1/rooms/{roomId}/hierarchy', () => {
  const s = makeTestServer();
  const schemas = new SpecSchemas();
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  const ids = {} as Record<'space' | 'pub' | 'secret' | 'readable' | 'knock' | 'restricted' | 'sub' | 'deep' | 'gone', string>;
  afterAll(() => s.close());

  beforeAll(async () => {
    alice = await s.register('alice');
    bob = await s.register('bob');
    carol = await s.register('carol');
    const space = { creation_content: { type: 'm.space' } };
    ids.space = await room(s, alice, { ...space, name: 'Space', preset: 'private_chat', invite: [bob.userId] });
    await s.http.post(`${C}/join/${enc(ids.space)}`).set(bearer(bob)).send({}).expect(200);
    ids.pub = await room(s, alice, { name: 'Public', preset: 'public_chat', topic: 'open to all', room_alias_name: 'pub' });
    ids.secret = await room(s, alice, { name: 'Secret', preset: 'private_chat' });
    ids.readable = await room(s, alice, { name: 'Readable', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }] });
    ids.knock = await room(s, alice, { name: 'Knock', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }] });
    ids.restricted = await room(s, alice, { name: 'Members only', initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: ids.space }] } }] });
    ids.sub = await room(s, alice, { ...space, name: 'Subspace', preset: 'public_chat' });
    ids.deep = await room(s, alice, { name: 'Deep', preset: 'public_chat' });
    ids.gone = await room(s, alice, { name: 'Removed', preset: 'public_chat' });
    // Children of the space: ordered ones first (by order), then by timestamp.
    await child(s, alice, ids.space, ids.secret, { via: ['test.local'] });
    s.clock.advance(10);
    await child(s, alice, ids.space, ids.readable, { via: ['test.local'], suggested: true });
    s.clock.advance(10);
    await child(s, alice, ids.space, ids.knock, { via: ['test.local'] });
    s.clock.advance(10);
    await child(s, alice, ids.space, ids.restricted, { via: ['test.local'] });
    s.clock.advance(10);
    await child(s, alice, ids.space, ids.sub, { via: ['test.local'], order: 'b' });
    await child(s, alice, ids.space, ids.pub, { via: ['test.local'], order: 'a', suggested: true });
    await child(s, alice, ids.space, '!elsewhere:remote.example', { via: ['remote.example'] }); // on another server: left out
    await child(s, alice, ids.space, ids.gone, {}); // no via: not a child
    await child(s, alice, ids.sub, ids.deep);
    await child(s, alice, ids.sub, ids.space); // a loop back to the top
  });

  const names = (rooms: { name?: string }[]) => rooms.map((r) => r.name);

  it('walks the space depth-first in child order, listing only rooms the user may see', async () => {
    const res = await s.http.get(hierarchy(ids.space)).set(bearer(bob));
    expect(res.status).toBe(200);
    // Secret (invite-only, bob not in it) and the remote and removed children are left out; the loop is walked once.
    expect(names(res.body.rooms)).toEqual(['Space', 'Public', 'Subspace', 'Deep', 'Readable', 'Knock', 'Members only']);
    expect(res.body.next_batch).toBeUndefined();
    expect(schemas.check({ method: 'get', path: hierarchy(ids.space), status: 200, body: res.body })).toEqual([]);
  });

  it('describes each room like the directory, with its m.space.child events as children_state', async () => {
    const res = await s.http.get(hierarchy(ids.space)).set(bearer(bob));
    const top = res.body.rooms[0];
    expect(top).toMatchObject({ room_id: ids.space, name: 'Space', room_type: 'm.space', num_joined_members: 2, world_readable: false, guest_can_join: true, join_rule: 'invite' });
    expect(top.children_state).toHaveLength(7); // every child event with a via, visible or not
    expect(top.children_state.find((c: { state_key: string }) => c.state_key === ids.pub)).toEqual({
      type: 'm.space.child', state_key: ids.pub, sender: alice.userId, content: { via: ['test.local'], order: 'a', suggested: true }, origin_server_ts: expect.any(Number),
    });
    expect(res.body.rooms.find((r: { room_id: string }) => r.room_id === ids.pub)).toMatchObject({ canonical_alias: '#pub:test.local', topic: 'open to all', join_rule: 'public', children_state: [] });
  });

  it('suggested_only=true follows only suggested children', async () => {
    const res = await s.http.get(hierarchy(ids.space)).query({ suggested_only: 'true' }).set(bearer(bob));
    expect(names(res.body.rooms)).toEqual(['Space', 'Public', 'Readable']);
  });

  it('max_depth stops the walk: 0 is the room alone, 1 its children', async () => {
    expect(names((await s.http.get(hierarchy(ids.space)).query({ max_depth: '0' }).set(bearer(bob))).body.rooms)).toEqual(['Space']);
    expect(names((await s.http.get(hierarchy(ids.space)).query({ max_depth: '1' }).set(bearer(bob))).body.rooms)).toEqual(['Space', 'Public', 'Subspace', 'Readable', 'Knock', 'Members only']);
  });

  it('pages with limit and from: the pages together are the whole walk', async () => {
    const seen: string[] = [];
    let from: string | undefined;
    let pages = 0;
    do {
      const res = await s.http.get(hierarchy(ids.space)).query({ limit: '3', ...(from ? { from } : {}) }).set(bearer(bob));
      expect(res.status).toBe(200);
      expect(res.body.rooms.length).toBeLessThanOrEqual(3);
      seen.push(...names(res.body.rooms) as string[]);
      from = res.body.next_batch;
      pages++;
    } while (from !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(['Space', 'Public', 'Subspace', 'Deep', 'Readable', 'Knock', 'Members only']);
  });

  it('refuses a changed suggested_only or max_depth, an unknown token, and bad values (400 M_INVALID_PARAM)', async () => {
    const first = await s.http.get(hierarchy(ids.space)).query({ limit: '1' }).set(bearer(bob));
    expectError(await s.http.get(hierarchy(ids.space)).query({ limit: '1', from: first.body.next_batch, suggested_only: 'true' }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
    const again = await s.http.get(hierarchy(ids.space)).query({ limit: '1' }).set(bearer(bob));
    expectError(await s.http.get(hierarchy(ids.space)).query({ from: again.body.next_batch, max_depth: '1' }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(hierarchy(ids.space)).query({ from: 'nonsense' }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
    // A token is the user's own.
    const mine = await s.http.get(hierarchy(ids.space)).query({ limit: '1' }).set(bearer(alice));
    expectError(await s.http.get(hierarchy(ids.space)).query({ from: mine.body.next_batch }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(hierarchy(ids.space)).query({ limit: '0' }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
    expectError(await s.http.get(hierarchy(ids.space)).query({ max_depth: '-1' }).set(bearer(bob)), 400, 'M_INVALID_PARAM');
  });

  it('answers 403 M_FORBIDDEN for a space the user may not see and for an unknown room; 401 without a token', async () => {
    expectError(await s.http.get(hierarchy(ids.space)).set(bearer(carol)), 403, 'M_FORBIDDEN');
    expectError(await s.http.get(hierarchy('!unknown:test.local')).set(bearer(bob)), 403, 'M_FORBIDDEN');
    expectError(await s.http.get(hierarchy(ids.space)), 401, 'M_MISSING_TOKEN');
  });

  it('starts from a public room anyone may see, and shows the owner the rooms only they may see', async () => {
    const res = await s.http.get(hierarchy(ids.sub)).set(bearer(carol));
    // carol may see the public subspace and Deep, not the private space it loops back to.
    expect(names(res.body.rooms)).toEqual(['Subspace', 'Deep']);
    const own = await s.http.get(hierarchy(ids.space)).set(bearer(alice));
    expect(names(own.body.rooms)).toContain('Secret');
  });
});
