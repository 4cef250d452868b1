// The outbound transaction queue with a fake clock and a fake transport over real SQLite storage:
// batching (50 PDUs, 100 EDUs), the same txnId until acknowledged, exponential backoff (capped,
// reset on success and when the server contacts us), independent destinations, a restart that
// resends what was not acknowledged and nothing that was, refused transactions dropped, coalescing.
import { Writable } from 'node:stream';
import { FakeClock } from '../../../src/clock.js';
import { buildConfig, type Config } from '../../../src/config.js';
import { FederationError } from '../../../src/core/federation/client.js';
import { QueueingFederationSender, type FederationSenderOptions, type TransactionTransport } from '../../../src/core/federation/sender.js';
import { uuidV7Generator } from '../../../src/core/ids.js';
import { createLogger } from '../../../src/logger.js';
import type { OutboundTransaction } from '../../../src/storage/federation-types.js';
import { openSqliteStorage, type SqliteStorage } from '../../../src/storage/sqlite/index.js';
import type { JsonObject } from '../../../src/wire.js';

interface Sent {
  destination: string;
  txnId: string;
  body: JsonObject;
}

/** Lets the loops run: every pending promise continuation and immediate. */
async function flush(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
}

/** A transport whose behaviour per destination the test sets: answer, fail, or hang until released. */
class FakeTransport {
  sent: Sent[] = [];
  mode = new Map<string, 'ok' | 'down' | 'refuse' | 'hang'>();
  answer: unknown = { pdus: {} };
  private hanging: (() => void)[] = [];

  readonly fn: TransactionTransport = (txn: OutboundTransaction, body, signal) => {
    this.sent.push({ destination: txn.destination, txnId: txn.txnId, body });
    const mode = this.mode.get(txn.destination) ?? 'ok';
    if (mode === 'down') return Promise.reject(new FederationError(txn.destination, 'network', 'connect ECONNREFUSED'));
    if (mode === 'refuse') return Promise.reject(new FederationError(txn.destination, 'http', '400 M_BAD_JSON', 400, 'M_BAD_JSON'));
    if (mode === 'hang') {
      return new Promise((resolve, reject) => {
        this.hanging.push(() => resolve(this.answer));
        signal.addEventListener('abort', () => reject(new FederationError(txn.destination, 'aborted', 'aborted')));
      });
    }
    return Promise.resolve(this.answer);
  };

  release(): void {
    for (const r of this.hanging.splice(0)) r();
  }

  to(destination: string): Sent[] {
    return this.sent.filter((s) => s.destination === destination);
  }
}

const pdu = (n: number): JsonObject => ({ type: 'm.room.message', room_id: '!r:me.test', sender: '@a:me.test', content: { body: `m${n}` }, depth: n });
const edu = (n: number) => ({ edu_type: 'm.typing', content: { n } });

describe('QueueingFederationSender', () => {
  let clock: FakeClock;
  let storage: SqliteStorage;
  let transport: FakeTransport;
  let config: Config;
  const senders: QueueingFederationSender[] = [];

  const makeSender = (opts: FederationSenderOptions = {}, logger = createLogger('silent')) => {
    const s = new QueueingFederationSender(config, storage.federation, transport.fn, clock, uuidV7Generator(() => clock.now()), logger,
      { initialBackoffMs: 10_000, maxBackoffMs: 60_000, ...opts });
    senders.push(s);
    return s;
  };

  beforeEach(() => {
    clock = new FakeClock();
    storage = openSqliteStorage(':memory:', () => clock.now());
    transport = new FakeTransport();
    config = buildConfig({ server_name: 'me.test', federation: { enabled: true } });
  });
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.stop();
    await storage.close();
  });

  it('batches at most 50 PDUs and 100 EDUs per transaction, in order', async () => {
    const sender = makeSender();
    for (let i = 0; i < 120; i++) void sender.sendPdu(['b.test'], pdu(i));
    for (let i = 0; i < 150; i++) void sender.sendEdu('b.test', edu(i));
    await flush();
    await sender.idle();
    const sent = transport.to('b.test');
    expect(sent.map((s) => [(s.body.pdus as unknown[]).length, ((s.body.edus as unknown[] | undefined) ?? []).length])).toEqual([[50, 100], [50, 50], [20, 0]]);
    expect(sent.flatMap((s) => (s.body.pdus as JsonObject[]).map((p) => p.depth))).toEqual([...Array(120).keys()]);
    expect(sent[0]!.body).toMatchObject({ origin: 'me.test', origin_server_ts: clock.now() });
    expect(new Set(sent.map((s) => s.txnId)).size).toBe(3);
  });

  it('sends a PDU to each destination once, never to itself or to a server outside the whitelist', async () => {
    config = buildConfig({ server_name: 'me.test', federation: { enabled: true, domain_whitelist: ['b.test', 'c.test'] } });
    const sender = makeSender();
    await sender.sendPdu(['b.test', 'c.test', 'b.test', 'me.test', 'evil.test'], pdu(1));
    await flush();
    expect(transport.sent.map((s) => s.destination).sort()).toEqual(['b.test', 'c.test']);
  });

  it('queues nothing when federation is disabled', async () => {
    config = buildConfig({ server_name: 'me.test' });
    const sender = makeSender();
    await sender.sendPdu(['b.test'], pdu(1));
    await flush();
    expect(transport.sent).toEqual([]);
    expect(await storage.federation.destinationsWithQueue()).toEqual([]);
  });

  it('retries the same transaction with exponential backoff, capped, until it is acknowledged; then the backoff is reset', async () => {
    const sender = makeSender();
    transport.mode.set('b.test', 'down');
    await sender.sendPdu(['b.test'], pdu(1));
    await flush();
    const waits = [10_000, 20_000, 40_000, 60_000, 60_000];
    for (const w of waits) {
      const before = transport.sent.length;
      clock.advance(w - 1);
      await flush();
      expect(transport.sent.length).toBe(before);
      clock.advance(1);
      await flush();
      expect(transport.sent.length).toBe(before + 1);
    }
    // A PDU queued meanwhile waits for the transaction in flight, which keeps its ID and content.
    await sender.sendPdu(['b.test'], pdu(2));
    await flush();
    expect(transport.sent.length).toBe(6);
    transport.mode.set('b.test', 'ok');
    clock.advance(60_000);
    await flush();
    const sent = transport.to('b.test');
    expect(new Set(sent.slice(0, 7).map((s) => s.txnId)).size).toBe(1);
    expect(sent.slice(0, 7).every((s) => (s.body.pdus as JsonObject[]).length === 1)).toBe(true);
    expect(sent[7]!.txnId).not.toBe(sent[0]!.txnId);
    expect((sent[7]!.body.pdus as JsonObject[])[0]!.depth).toBe(2);
    expect(await storage.federation.getDestination('b.test')).toMatchObject({ retryIntervalMs: 0, nextAttemptTs: 0, lastSuccessTs: clock.now() });
    // Down again: the backoff starts from the beginning.
    transport.mode.set('b.test', 'down');
    await sender.sendPdu(['b.test'], pdu(3));
    await flush();
    expect(await storage.federation.getDestination('b.test')).toMatchObject({ retryIntervalMs: 10_000 });
  });

  it('never lets a slow or dead destination delay the others', async () => {
    const sender = makeSender();
    transport.mode.set('slow.test', 'hang');
    transport.mode.set('dead.test', 'down');
    await sender.sendPdu(['slow.test', 'dead.test', 'b.test'], pdu(1));
    await flush();
    await sender.sendPdu(['b.test', 'slow.test'], pdu(2));
    await flush();
    expect(transport.to('b.test').map((s) => (s.body.pdus as JsonObject[])[0]!.depth)).toEqual([1, 2]);
    expect(transport.to('slow.test')).toHaveLength(1);
    transport.release();
    await flush();
    expect(transport.to('slow.test').map((s) => (s.body.pdus as JsonObject[])[0]!.depth)).toEqual([1, 2]);
  });

  it('resends after a restart what was not acknowledged, with the same txnId, and nothing that was', async () => {
    const first = makeSender();
    transport.mode.set('b.test', 'down');
    await first.sendPdu(['b.test', 'c.test'], pdu(1));
    await flush();
    await first.stop();
    const [failed] = transport.to('b.test');
    expect(transport.to('c.test')).toHaveLength(1);
    // A new process over the same database: b.test after its backoff, c.test (acknowledged) never again.
    transport.sent = [];
    transport.mode.set('b.test', 'ok');
    const second = makeSender();
    await second.start();
    await flush();
    expect(transport.sent).toEqual([]);
    clock.advance(10_000);
    await flush();
    expect(transport.sent).toEqual([{ destination: 'b.test', txnId: failed!.txnId, body: failed!.body }]);
    await second.stop();
    transport.sent = [];
    const third = makeSender();
    await third.start();
    clock.advance(3_600_000);
    await flush();
    expect(transport.sent).toEqual([]);
  });

  it('sends a transaction interrupted by stop() again after the restart (the receiver deduplicates it by txnId)', async () => {
    const first = makeSender();
    transport.mode.set('b.test', 'hang');
    await first.sendPdu(['b.test'], pdu(1));
    await flush();
    await first.stop();
    transport.mode.set('b.test', 'ok');
    const second = makeSender();
    await second.start();
    await flush();
    const sent = transport.to('b.test');
    expect(sent).toHaveLength(2);
    expect(sent[1]!.txnId).toBe(sent[0]!.txnId);
  });

  it('drops a transaction the destination refuses (4xx) and goes on with the next', async () => {
    const sender = makeSender();
    transport.mode.set('b.test', 'refuse');
    await sender.sendPdu(['b.test'], pdu(1));
    await flush();
    transport.mode.set('b.test', 'ok');
    await sender.sendPdu(['b.test'], pdu(2));
    await flush();
    expect(transport.to('b.test').map((s) => (s.body.pdus as JsonObject[])[0]!.depth)).toEqual([1, 2]);
    expect(await storage.federation.destinationsWithQueue()).toEqual([]);
  });

  it('tries a backing-off destination at once when it contacts us', async () => {
    const sender = makeSender();
    transport.mode.set('b.test', 'down');
    await sender.sendPdu(['b.test'], pdu(1));
    await flush();
    transport.mode.set('b.test', 'ok');
    sender.remoteIsUp('b.test');
    await flush();
    expect(transport.to('b.test')).toHaveLength(2);
    expect(await storage.federation.destinationsWithQueue()).toEqual([]);
    sender.remoteIsUp('c.test'); // not backing off: nothing happens
    await flush();
    expect(transport.sent).toHaveLength(2);
  });

  it('replaces a queued EDU with a newer one of the same coalescing key', async () => {
    const sender = makeSender();
    transport.mode.set('b.test', 'hang');
    await sender.sendPdu(['b.test'], pdu(0));
    await flush();
    await sender.sendEdu('b.test', { edu_type: 'm.typing', content: { typing: true } }, { coalesceKey: 'typing !r @a' });
    await sender.sendEdu('b.test', { edu_type: 'm.typing', content: { typing: false } }, { coalesceKey: 'typing !r @a' });
    await sender.sendEdu('b.test', { edu_type: 'm.typing', content: { other: true } }, { coalesceKey: 'typing !r @b' });
    transport.mode.set('b.test', 'ok');
    transport.release();
    await flush();
    expect(transport.to('b.test')[1]!.body.edus).toEqual([
      { edu_type: 'm.typing', content: { typing: false } },
      { edu_type: 'm.typing', content: { other: true } },
    ]);
  });

  it('logs the PDUs the destination refused', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
    const sender = makeSender({}, logger);
    transport.answer = { pdus: { $ok: {}, $bad: { error: 'not joined' } } };
    await sender.sendPdu(['b.test'], pdu(1));
    await flush();
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toEqual([expect.objectContaining({ destination: 'b.test', eventId: '$bad', error: 'not joined', msg: 'federation: the destination refused a PDU' })]);
  });
});
