// Send-to-device messaging (matrix-spec: to_device.yaml#sendToDevice; client-server-api
// "Send-to-Device messaging"): GTChat's whisper, a private message to one user's devices.
import { bearer, makeTestServer, type TestUser, expectError } from '../../helpers/server.js';

const s = makeTestServer({ presence: { enabled: false } });
afterAll(() => s.close());

const C = '/_matrix/client/v3';
let txn = 0;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const sendToDevice = (u: TestUser, type: string, body: unknown, txnId = `w${++txn}`) =>
  s.http.put(`${C}/sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`).set(bearer(u)).send(body as object);
async function whisper(u: TestUser, messages: Json, type = 'org.gtchat.whisper', txnId?: string): Promise<void> {
  const r = await sendToDevice(u, type, { messages }, txnId);
  expect(r.status).toBe(200);
  expect(r.body).toEqual({});
}
async function sync(u: TestUser, since?: string): Promise<Json> {
  const r = await s.http.get(`${C}/sync`).query(since ? { since } : {}).set(bearer(u));
  expect(r.status).toBe(200);
  return r.body as Json;
}
/** A second device of the same user, through a real password login. */
async function secondDevice(u: TestUser): Promise<TestUser> {
  const r = await s.http.post(`${C}/login`).send({ type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password });
  expect(r.status).toBe(200);
  return { ...u, accessToken: r.body.access_token, deviceId: r.body.device_id };
}

let n = 0;
async function user(name: string): Promise<TestUser> {
  return s.register(`${name}${++n}`);
}

describe('PUT /sendToDevice/:eventType/:txnId', () => {
  it('delivers to one device only, with sender, type and content', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const bob2 = await secondDevice(bob);
    const since1 = (await sync(bob)).next_batch as string;
    const since2 = (await sync(bob2)).next_batch as string;
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { text: 'only your phone' } } });
    expect((await sync(bob, since1)).to_device.events).toEqual([{ sender: alice.userId, type: 'org.gtchat.whisper', content: { text: 'only your phone' } }]);
    expect((await sync(bob2, since2)).to_device.events).toEqual([]);
  });

  it('delivers to every device of the user with *', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const bob2 = await secondDevice(bob);
    const since1 = (await sync(bob)).next_batch as string;
    const since2 = (await sync(bob2)).next_batch as string;
    await whisper(alice, { [bob.userId]: { '*': { text: 'everywhere' } } });
    const expected = [{ sender: alice.userId, type: 'org.gtchat.whisper', content: { text: 'everywhere' } }];
    expect((await sync(bob, since1)).to_device.events).toEqual(expected);
    expect((await sync(bob2, since2)).to_device.events).toEqual(expected);
  });

  it('delivers to several users in one request', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const bobSince = (await sync(bob)).next_batch as string;
    const carolSince = (await sync(carol)).next_batch as string;
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { to: 'bob' } }, [carol.userId]: { [carol.deviceId]: { to: 'carol' } } });
    expect((await sync(bob, bobSince)).to_device.events.map((e: Json) => e.content)).toEqual([{ to: 'bob' }]);
    expect((await sync(carol, carolSince)).to_device.events.map((e: Json) => e.content)).toEqual([{ to: 'carol' }]);
  });

  it('scopes a transaction ID to the request path: the same txnId with another event type is a new message (issue 13.2)', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const first = await sync(bob);
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } }, 'm.one', 't1');
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { n: 2 } } }, 'm.two', 't1');
    // A true retry (same path) is still not delivered twice.
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { n: 2 } } }, 'm.two', 't1');
    const got = await sync(bob, first.next_batch);
    expect(got.to_device.events.map((e: Json) => [e.type, e.content.n])).toEqual([['m.one', 1], ['m.two', 2]]);
  });

  it('a retry with the same txnId does not deliver twice', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const since = (await sync(bob)).next_batch as string;
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } }, 'org.gtchat.whisper', 'same-txn');
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { n: 1 } } }, 'org.gtchat.whisper', 'same-txn');
    const got = await sync(bob, since);
    expect(got.to_device.events).toEqual([{ sender: alice.userId, type: 'org.gtchat.whisper', content: { n: 1 } }]);
    // A new txnId is a new message.
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { n: 2 } } }, 'org.gtchat.whisper', 'other-txn');
    expect((await sync(bob, got.next_batch)).to_device.events.map((e: Json) => e.content)).toEqual([{ n: 2 }]);
  });

  it('the same txnId from another device of the sender is another message', async () => {
    const alice = await user('alice');
    const alice2 = await secondDevice(alice);
    const bob = await user('bob');
    const since = (await sync(bob)).next_batch as string;
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { from: 1 } } }, 'org.gtchat.whisper', 'shared-txn');
    await whisper(alice2, { [bob.userId]: { [bob.deviceId]: { from: 2 } } }, 'org.gtchat.whisper', 'shared-txn');
    expect((await sync(bob, since)).to_device.events.map((e: Json) => e.content)).toEqual([{ from: 1 }, { from: 2 }]);
  });

  it('a message to another user\'s device is visible to nobody else', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    const bob2 = await secondDevice(bob);
    const carolSince = (await sync(carol)).next_batch as string;
    const aliceSince = (await sync(alice)).next_batch as string;
    const bob2Since = (await sync(bob2)).next_batch as string;
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { secret: 'for bob' } } });
    expect((await sync(carol, carolSince)).to_device.events).toEqual([]);
    expect((await sync(carol)).to_device.events).toEqual([]);
    expect((await sync(alice, aliceSince)).to_device.events).toEqual([]);
    expect((await sync(bob2, bob2Since)).to_device.events).toEqual([]);
    expect((await sync(bob)).to_device.events).toHaveLength(1);
  });

  it('is delivered exactly once: again on a retried sync, never after the next sync acknowledges it', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const since = (await sync(bob)).next_batch as string;
    await whisper(alice, { [bob.userId]: { [bob.deviceId]: { once: true } } });
    const first = await sync(bob, since);
    expect(first.to_device.events).toHaveLength(1);
    expect((await sync(bob, since)).to_device.events).toHaveLength(1); // the client never saw the answer
    const second = await sync(bob, first.next_batch);
    expect(second.to_device.events).toEqual([]);
    expect((await sync(bob, since)).to_device.events).toEqual([]);
    expect((await sync(bob, second.next_batch)).to_device.events).toEqual([]);
  });

  it('a message to an unknown device or user is accepted and goes nowhere', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const since = (await sync(bob)).next_batch as string;
    await whisper(alice, { [bob.userId]: { NOSUCHDEVICE: { x: 1 } }, '@ghost:test.local': { '*': { x: 2 } }, '@remote:elsewhere.example': { D: { x: 3 } } });
    expect((await sync(bob, since)).to_device.events).toEqual([]);
  });

  it('refuses a body without messages with 400', async () => {
    const alice = await user('alice');
    expectError(await sendToDevice(alice, 'org.gtchat.whisper', {}), 400, 'M_BAD_JSON');
    expectError(await sendToDevice(alice, 'org.gtchat.whisper', { messages: [] }), 400, 'M_BAD_JSON');
    expectError(await sendToDevice(alice, 'org.gtchat.whisper', { messages: { '@bob:test.local': 'hi' } }), 400, 'M_BAD_JSON');
    expectError(await sendToDevice(alice, 'org.gtchat.whisper', { messages: { '@bob:test.local': { D: 'hi' } } }), 400, 'M_BAD_JSON');
  });

  it('refuses an invalid user ID with 400 M_INVALID_PARAM', async () => {
    const alice = await user('alice');
    expectError(await sendToDevice(alice, 'org.gtchat.whisper', { messages: { 'not-a-user': { D: { x: 1 } } } }), 400, 'M_INVALID_PARAM');
  });

  it('requires an access token', async () => {
    const res = await s.http.put(`${C}/sendToDevice/org.gtchat.whisper/t1`).send({ messages: {} });
    expectError(res, 401, 'M_MISSING_TOKEN');
  });
});
