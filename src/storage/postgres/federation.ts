// PostgreSQL implementation of FederationStore (migrations/postgres/0011_federation_transport.sql); the
// same behaviour as sqlite/federation.ts. Taking a destination's transaction reads, then writes: it
// holds the destination's advisory lock for its transaction, so two senders sharing the database never
// assign the same queued items twice (SQLite's single writer gives the same).
import type pg from 'pg';
import type {
  DestinationState, FederationStore, OutboundTransaction, StoredServerKey,
} from '../federation-types.js';
import { Batch, exec, row, rows, sql, transaction, type Queryable } from './db.js';

interface KeyRow { server_name: string; key_id: string; public_key: string; valid_until_ts: number; expired_ts: number | null; fetched_ts: number }
interface DestinationRow { destination: string; txn_id: string | null; txn_ts: number | null; retry_interval_ms: number; next_attempt_ts: number; last_success_ts: number | null }

const toKey = (r: KeyRow): StoredServerKey => ({
  serverName: r.server_name, keyId: r.key_id, publicKey: r.public_key, validUntilTs: r.valid_until_ts, expiredTs: r.expired_ts, fetchedTs: r.fetched_ts,
});
const toDestination = (r: DestinationRow): DestinationState => ({
  destination: r.destination, retryIntervalMs: r.retry_interval_ms, nextAttemptTs: r.next_attempt_ts, lastSuccessTs: r.last_success_ts,
});

const DESTINATION_COLUMNS = 'destination, txn_id, txn_ts, retry_interval_ms, next_attempt_ts, last_success_ts';

const Q = {
  selectKeys: sql('SELECT server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts FROM remote_server_keys WHERE server_name = $1 ORDER BY key_id'),
  upsertKey: sql(`INSERT INTO remote_server_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, valid_until_ts = excluded.valid_until_ts,
      expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts`),
  upsertResponse: sql(`INSERT INTO remote_server_key_responses (server_name, response_json, valid_until_ts, fetched_ts) VALUES ($1, $2, $3, $4)
    ON CONFLICT (server_name) DO UPDATE SET response_json = excluded.response_json, valid_until_ts = excluded.valid_until_ts, fetched_ts = excluded.fetched_ts`),
  selectResponse: sql('SELECT response_json, valid_until_ts, fetched_ts FROM remote_server_key_responses WHERE server_name = $1'),
  // The destination's lock, held until the transaction ends (two-key advisory space: 'FEDQ', hash).
  lockDestination: sql('SELECT pg_advisory_xact_lock(1178944593, hashtext($1))'),
  insertOutbox: sql('INSERT INTO federation_outbox (destination, kind, json, coalesce_key, queued_ts) VALUES ($1, $2, $3, $4, $5)'),
  deleteCoalesced: sql('DELETE FROM federation_outbox WHERE destination = $1 AND coalesce_key = $2 AND txn_id IS NULL'),
  selectDestination: sql(`SELECT ${DESTINATION_COLUMNS} FROM federation_destinations WHERE destination = $1`),
  ensureDestination: sql('INSERT INTO federation_destinations (destination) VALUES ($1) ON CONFLICT DO NOTHING'),
  selectTxnItems: sql('SELECT kind, json FROM federation_outbox WHERE destination = $1 AND txn_id = $2 ORDER BY id'),
  selectQueued: sql('SELECT id, json FROM federation_outbox WHERE destination = $1 AND kind = $2 AND txn_id IS NULL ORDER BY id LIMIT $3'),
  assignItems: sql('UPDATE federation_outbox SET txn_id = $1 WHERE id = ANY($2::bigint[])'),
  setTxn: sql('UPDATE federation_destinations SET txn_id = $1, txn_ts = $2 WHERE destination = $3'),
  deleteTxnItems: sql('DELETE FROM federation_outbox WHERE destination = $1 AND txn_id = $2'),
  completeTxn: sql(`UPDATE federation_destinations SET txn_id = NULL, txn_ts = NULL, retry_interval_ms = 0, next_attempt_ts = 0,
    last_success_ts = CASE WHEN $1::boolean THEN $2::bigint ELSE last_success_ts END WHERE destination = $3 AND txn_id = $4`),
  setBackoff: sql(`INSERT INTO federation_destinations (destination, retry_interval_ms, next_attempt_ts) VALUES ($1, $2, $3)
    ON CONFLICT (destination) DO UPDATE SET retry_interval_ms = excluded.retry_interval_ms, next_attempt_ts = excluded.next_attempt_ts`),
  destinationsWithQueue: sql(`SELECT d.destination, d.txn_id, d.txn_ts, d.retry_interval_ms, d.next_attempt_ts, d.last_success_ts
    FROM (SELECT DISTINCT destination FROM federation_outbox) q JOIN federation_destinations d ON d.destination = q.destination
    ORDER BY d.destination`),
  selectReceived: sql('SELECT response_json FROM federation_received_transactions WHERE origin = $1 AND txn_id = $2'),
  insertReceived: sql(`INSERT INTO federation_received_transactions (origin, txn_id, response_json, received_ts) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING`),
  pruneReceived: sql('DELETE FROM federation_received_transactions WHERE received_ts < $1'),
};

async function take(c: Queryable, destination: string, newTxnId: string, ts: number, maxPdus: number, maxEdus: number): Promise<OutboundTransaction | undefined> {
  await exec(c, Q.lockDestination, [destination]);
  const d = await row<DestinationRow>(c, Q.selectDestination, [destination]);
  if (d?.txn_id) {
    const items = await rows<{ kind: string; json: string }>(c, Q.selectTxnItems, [destination, d.txn_id]);
    return {
      destination, txnId: d.txn_id, ts: d.txn_ts ?? ts,
      pdus: items.filter((i) => i.kind === 'pdu').map((i) => i.json),
      edus: items.filter((i) => i.kind === 'edu').map((i) => i.json),
    };
  }
  const pdus = await rows<{ id: number; json: string }>(c, Q.selectQueued, [destination, 'pdu', maxPdus]);
  const edus = await rows<{ id: number; json: string }>(c, Q.selectQueued, [destination, 'edu', maxEdus]);
  if (pdus.length === 0 && edus.length === 0) return undefined;
  const b = new Batch(c);
  b.add(Q.ensureDestination, [destination]);
  b.add(Q.assignItems, [newTxnId, [...pdus, ...edus].map((r) => r.id)]);
  b.add(Q.setTxn, [newTxnId, ts, destination]);
  await b.flush();
  return { destination, txnId: newTxnId, ts, pdus: pdus.map((r) => r.json), edus: edus.map((r) => r.json) };
}

export function createPostgresFederationStore(pool: pg.Pool): FederationStore {
  const db: Queryable = pool;
  return {
    async getServerKeys(serverName) {
      return (await rows<KeyRow>(db, Q.selectKeys, [serverName])).map(toKey);
    },
    async storeServerKeys(serverName, response, keys) {
      await transaction(pool, async (c) => {
        const b = new Batch(c);
        b.add(Q.upsertResponse, [serverName, response.json, response.validUntilTs, response.fetchedTs]);
        for (const k of keys) b.add(Q.upsertKey, [k.serverName, k.keyId, k.publicKey, k.validUntilTs, k.expiredTs, k.fetchedTs]);
        await b.flush();
      });
    },
    async getServerKeyResponse(serverName) {
      const r = await row<{ response_json: string; valid_until_ts: number; fetched_ts: number }>(db, Q.selectResponse, [serverName]);
      return r ? { json: r.response_json, validUntilTs: r.valid_until_ts, fetchedTs: r.fetched_ts } : undefined;
    },
    async enqueue(items, ts) {
      if (items.length === 0) return;
      await transaction(pool, async (c) => {
        const b = new Batch(c);
        for (const item of items) {
          b.add(Q.ensureDestination, [item.destination]);
          if (item.coalesceKey !== undefined) b.add(Q.deleteCoalesced, [item.destination, item.coalesceKey]);
          b.add(Q.insertOutbox, [item.destination, item.kind, item.json, item.coalesceKey ?? null, ts]);
        }
        await b.flush();
      });
    },
    async takeTransaction(destination, newTxnId, ts, maxPdus, maxEdus) {
      return transaction(pool, (c) => take(c, destination, newTxnId, ts, maxPdus, maxEdus));
    },
    async completeTransaction(destination, txnId, ts, succeeded) {
      await transaction(pool, async (c) => {
        const b = new Batch(c);
        b.add(Q.deleteTxnItems, [destination, txnId]);
        b.add(Q.completeTxn, [succeeded, ts, destination, txnId]);
        await b.flush();
      });
    },
    async setBackoff(destination, retryIntervalMs, nextAttemptTs) {
      await exec(db, Q.setBackoff, [destination, retryIntervalMs, nextAttemptTs]);
    },
    async getDestination(destination) {
      const r = await row<DestinationRow>(db, Q.selectDestination, [destination]);
      return r ? toDestination(r) : undefined;
    },
    async destinationsWithQueue() {
      return (await rows<DestinationRow>(db, Q.destinationsWithQueue)).map(toDestination);
    },
    async getReceivedTransaction(origin, txnId) {
      return (await row<{ response_json: string }>(db, Q.selectReceived, [origin, txnId]))?.response_json;
    },
    async putReceivedTransaction(origin, txnId, responseJson, ts, pruneBeforeTs) {
      await transaction(pool, async (c) => {
        const b = new Batch(c);
        b.add(Q.insertReceived, [origin, txnId, responseJson, ts]);
        b.add(Q.pruneReceived, [pruneBeforeTs]);
        await b.flush();
      });
    },
  };
}
