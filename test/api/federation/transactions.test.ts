// PUT /_matrix/federation/v1/send/{txnId} (matrix-spec: server-server/transactions.yaml#sendTransaction):
// PDUs handed one by one, in order, to the FederationEventHandler and answered by event ID; EDUs
// after them; at most 50 PDUs and 100 EDUs; one processing per (origin, txnId); a rate limit per
// origin; the room protocol's handler refusing what it cannot accept.
import type { Edu, FederationEventHandler, PduResult } from '../../../src/core/federation/handler.js';
import type { JsonObject } from '../../../src/wire.js';
import { computeEventId } from '../../../src/core/crypto/event-hashing.js';
import { ROOM_VERSIONS } from '../../../src/core/room-versions.js';
import { fakeDns, knownRemote, signedPut, type RemoteServer } from '../../helpers/federation.js';
import { bearer, expectError, makeTestServer } from '../../helpers/server.js';

/** Records what it is handed; answers per PDU from `depth` (odd: an error). */
class RecordingHandler implements FederationEventHandler {
  calls: string[] = [];
  async onPdu(origin: string, pdu: JsonObject): Promise<PduResult> {
    this.calls.push(`pdu ${origin} ${String(pdu.depth)}`);
    await new Promise((r) => setImmediate(r));
    if (pdu.depth === 99) throw new Error('handler exploded');
    const eventId = `$e${String(pdu.depth)}`;
    return (pdu.depth as number) % 2 === 1 ? { eventId, error: 'not allowed' } : { eventId };
  }
  async onEdu(origin: string, edu: Edu): Promise<void> {
    this.calls.push(`edu ${origin} ${edu.edu_type}`);
    if (edu.edu_type === 'm.bad') throw new Error('bad edu');
  }
}

const pdu = (depth: number): JsonObject => ({ room_id: '!r:remote.test', type: 'm.room.message', sender: '@a:remote.test', depth, content: {} });
const txn = (pdus: JsonObject[], edus?: JsonObject[]) => ({ origin: 'remote.test', origin_server_ts: 1, pdus, ...(edus ? { edus } : {}) });

describe('PUT /_matrix/federation/v1/send/{txnId}', () => {
  const handler = new RecordingHandler();
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns(), eventHandler: handler } });
  let remote: RemoteServer;
  let other: RemoteServer;
  beforeAll(async () => {
    remote = await knownRemote(s, 'remote.test');
    other = await knownRemote(s, 'other.test');
  });
  afterAll(() => s.close());
  beforeEach(() => { handler.calls = []; });

  it('hands the PDUs one by one in order, then the EDUs, and answers per event ID', async () => {
    const res = await signedPut(s, remote, '/_matrix/federation/v1/send/a1', txn([pdu(2), pdu(1), pdu(4)], [{ edu_type: 'm.typing', content: {} }]));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pdus: { $e2: {}, $e1: { error: 'not allowed' }, $e4: {} } });
    expect(handler.calls).toEqual(['pdu remote.test 2', 'pdu remote.test 1', 'pdu remote.test 4', 'edu remote.test m.typing']);
  });

  it('answers a handler failure as that PDU\'s error and goes on; a failing or malformed EDU changes nothing', async () => {
    const res = await signedPut(s, remote, '/_matrix/federation/v1/send/a2', txn([pdu(99), pdu(2)], [{ edu_type: 'm.bad', content: {} }, { nope: 1 }, { edu_type: 'm.ok', content: {} }]));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pdus: { $e2: {} } });
    expect(handler.calls).toEqual(['pdu remote.test 99', 'pdu remote.test 2', 'edu remote.test m.bad', 'edu remote.test m.ok']);
  });

  it('processes a transaction once per (origin, txnId): a retry gets the same answer', async () => {
    const body = txn([pdu(6)]);
    const [a, b] = await Promise.all([signedPut(s, remote, '/_matrix/federation/v1/send/dup', body), signedPut(s, remote, '/_matrix/federation/v1/send/dup', body)]);
    const c = await signedPut(s, remote, '/_matrix/federation/v1/send/dup', body);
    expect([a.body, b.body, c.body]).toEqual([{ pdus: { $e6: {} } }, { pdus: { $e6: {} } }, { pdus: { $e6: {} } }]);
    expect(handler.calls).toEqual(['pdu remote.test 6']);
    // The same txnId from another origin is another transaction.
    await signedPut(s, other, '/_matrix/federation/v1/send/dup', txn([pdu(6)]));
    expect(handler.calls).toEqual(['pdu remote.test 6', 'pdu other.test 6']);
  });

  it('refuses more than 50 PDUs or 100 EDUs, and a body without pdus, with 400 M_BAD_JSON', async () => {
    const many = Array.from({ length: 51 }, (_, i) => pdu(i));
    expectError(await signedPut(s, remote, '/_matrix/federation/v1/send/big1', txn(many)), 400, 'M_BAD_JSON');
    const edus = Array.from({ length: 101 }, () => ({ edu_type: 'm.typing', content: {} }));
    expectError(await signedPut(s, remote, '/_matrix/federation/v1/send/big2', txn([], edus)), 400, 'M_BAD_JSON');
    expectError(await signedPut(s, remote, '/_matrix/federation/v1/send/big3', { origin: 'remote.test', origin_server_ts: 1 }), 400, 'M_BAD_JSON');
    expect(handler.calls).toEqual([]);
    const fifty = Array.from({ length: 50 }, (_, i) => pdu(2 * i));
    expect((await signedPut(s, remote, '/_matrix/federation/v1/send/ok50', txn(fifty, edus.slice(1)))).status).toBe(200);
  });

  it('takes a transaction larger than max_request_body_bytes', async () => {
    const big = Array.from({ length: 20 }, (_, i) => ({ ...pdu(2 * i), content: { body: 'x'.repeat(60_000) } }));
    const res = await signedPut(s, remote, '/_matrix/federation/v1/send/large', txn(big));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.pdus)).toHaveLength(20);
  });
});

describe('the transaction rate limit per origin', () => {
  const s = makeTestServer({ federation: { enabled: true }, rate_limits: { enabled: true, federation_transaction: { per_second: 0.001, burst: 2 } } }, { federation: { dns: fakeDns() } });
  afterAll(() => s.close());

  it('answers 429 M_LIMIT_EXCEEDED past the burst, for that origin only', async () => {
    const remote = await knownRemote(s, 'remote.test');
    const other = await knownRemote(s, 'other.test');
    for (const id of ['r1', 'r2']) expect((await signedPut(s, remote, `/_matrix/federation/v1/send/${id}`, txn([]))).status).toBe(200);
    expectError(await signedPut(s, remote, '/_matrix/federation/v1/send/r3', txn([])), 429, 'M_LIMIT_EXCEEDED');
    expect((await signedPut(s, other, '/_matrix/federation/v1/send/r3', txn([]))).status).toBe(200);
  });
});

describe('the room protocol\'s handler', () => {
  const s = makeTestServer({ federation: { enabled: true } }, { federation: { dns: fakeDns() } });
  afterAll(() => s.close());

  it('answers an error for a PDU it cannot accept: under its event ID when the room version is known, left out otherwise', async () => {
    const remote = await knownRemote(s, 'remote.test');
    const alice = await s.register('alice');
    const room = (await s.http.post('/_matrix/client/v3/createRoom').set(bearer(alice)).send({})).body.room_id as string;
    // In a room held here, but not validly signed: refused.
    const known: JsonObject = { room_id: room, type: 'm.room.message', sender: '@m:remote.test', depth: 5, content: { body: 'hi' }, prev_events: [], auth_events: [], origin_server_ts: 1, hashes: { sha256: 'x' }, signatures: {} };
    // The create event of a room this server is not in: not joined.
    const create: JsonObject = { type: 'm.room.create', sender: '@m:remote.test', state_key: '', depth: 1, content: { room_version: '10' }, room_id: '!new:remote.test', prev_events: [], auth_events: [], origin_server_ts: 1 };
    const unknownRoom = { ...known, room_id: '!elsewhere:remote.test' };
    const res = await signedPut(s, remote, '/_matrix/federation/v1/send/d1', txn([known, create, unknownRoom]));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.pdus).sort()).toEqual([computeEventId(known, ROOM_VERSIONS['11']), computeEventId(create, ROOM_VERSIONS['10'])].sort());
    expect(res.body.pdus[computeEventId(known, ROOM_VERSIONS['11'])].error).toEqual(expect.any(String));
    expect(res.body.pdus[computeEventId(create, ROOM_VERSIONS['10'])]).toEqual({ error: 'This server is not in the room' });
    expect(await s.services.storage.rooms.getEvent(computeEventId(known, ROOM_VERSIONS['11']))).toBeUndefined();
  });
});
