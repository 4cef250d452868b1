// SQLite implementation of FederationStore (migrations/0011_federation_transport.sql).
import type Database from 'better-sqlite3';
import type {
  DestinationState, FederationStore, OutboundTransaction, OutboxItem, StoredKeyResponse, StoredServerKey,
} from '../federation-types.js';

interface KeyRow { server_name: string; key_id: string; public_key: string; valid_until_ts: number; expired_ts: number | null; fetched_ts: number }
interface DestinationRow { destination: string; txn_id: string | null; txn_ts: number | null; retry_interval_ms: number; next_attempt_ts: number; last_success_ts: number | null }

const toKey = (r: KeyRow): StoredServerKey => ({
  serverName: r.server_name, keyId: r.key_id, publicKey: r.public_key, validUntilTs: r.valid_until_ts, expiredTs: r.expired_ts, fetchedTs: r.fetched_ts,
});
const toDestination = (r: DestinationRow): DestinationState => ({
  destination: r.destination, retryIntervalMs: r.retry_interval_ms, nextAttemptTs: r.next_attempt_ts, lastSuccessTs: r.last_success_ts,
});

const SELECT_KEYS = 'SELECT server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts FROM remote_server_keys WHERE server_name = ?';
const UPSERT_KEY = `INSERT INTO remote_server_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT(server_name, key_id) DO UPDATE SET public_key = excluded.public_key, valid_until_ts = excluded.valid_until_ts,
    expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts`;
const UPSERT_RESPONSE = `INSERT INTO remote_server_key_responses (server_name, response_json, valid_until_ts, fetched_ts) VALUES (?, ?, ?, ?)
  ON CONFLICT(server_name) DO UPDATE SET response_json = excluded.response_json, valid_until_ts = excluded.valid_until_ts, fetched_ts = excluded.fetched_ts`;
const SELECT_RESPONSE = 'SELECT response_json, valid_until_ts, fetched_ts FROM remote_server_key_responses WHERE server_name = ?';

const INSERT_OUTBOX = 'INSERT INTO federation_outbox (destination, kind, json, coalesce_key, queued_ts) VALUES (?, ?, ?, ?, ?)';
const DELETE_COALESCED = 'DELETE FROM federation_outbox WHERE destination = ? AND coalesce_key = ? AND txn_id IS NULL';
const SELECT_DESTINATION = 'SELECT destination, txn_id, txn_ts, retry_interval_ms, next_attempt_ts, last_success_ts FROM federation_destinations WHERE destination = ?';
const ENSURE_DESTINATION = 'INSERT OR IGNORE INTO federation_destinations (destination) VALUES (?)';
const SELECT_TXN_ITEMS = 'SELECT kind, json FROM federation_outbox WHERE destination = ? AND txn_id = ? ORDER BY id';
const SELECT_QUEUED = 'SELECT id, json FROM federation_outbox WHERE destination = ? AND kind = ? AND txn_id IS NULL ORDER BY id LIMIT ?';
const ASSIGN_ITEM = 'UPDATE federation_outbox SET txn_id = ? WHERE id = ?';
const SET_TXN = 'UPDATE federation_destinations SET txn_id = ?, txn_ts = ? WHERE destination = ?';
const DELETE_TXN_ITEMS = 'DELETE FROM federation_outbox WHERE destination = ? AND txn_id = ?';
const COMPLETE_TXN = `UPDATE federation_destinations SET txn_id = NULL, txn_ts = NULL, retry_interval_ms = 0, next_attempt_ts = 0,
  last_success_ts = CASE WHEN ? THEN ? ELSE last_success_ts END WHERE destination = ? AND txn_id = ?`;
const SET_BACKOFF = `INSERT INTO federation_destinations (destination, retry_interval_ms, next_attempt_ts) VALUES (?, ?, ?)
  ON CONFLICT(destination) DO UPDATE SET retry_interval_ms = excluded.retry_interval_ms, next_attempt_ts = excluded.next_attempt_ts`;
const DESTINATIONS_WITH_QUEUE = `SELECT d.destination, d.txn_id, d.txn_ts, d.retry_interval_ms, d.next_attempt_ts, d.last_success_ts
  FROM (SELECT DISTINCT destination FROM federation_outbox) q JOIN federation_destinations d ON d.destination = q.destination
  ORDER BY d.destination`;

const SELECT_RECEIVED = 'SELECT response_json FROM federation_received_transactions WHERE origin = ? AND txn_id = ?';
const INSERT_RECEIVED = 'INSERT OR IGNORE INTO federation_received_transactions (origin, txn_id, response_json, received_ts) VALUES (?, ?, ?, ?)';
const PRUNE_RECEIVED = 'DELETE FROM federation_received_transactions WHERE received_ts < ?';

export function createSqliteFederationStore(db: Database.Database): FederationStore {
  const s = {
    selectKeys: db.prepare(SELECT_KEYS),
    upsertKey: db.prepare(UPSERT_KEY),
    upsertResponse: db.prepare(UPSERT_RESPONSE),
    selectResponse: db.prepare(SELECT_RESPONSE),
    insertOutbox: db.prepare(INSERT_OUTBOX),
    deleteCoalesced: db.prepare(DELETE_COALESCED),
    selectDestination: db.prepare(SELECT_DESTINATION),
    ensureDestination: db.prepare(ENSURE_DESTINATION),
    selectTxnItems: db.prepare(SELECT_TXN_ITEMS),
    selectQueued: db.prepare(SELECT_QUEUED),
    assignItem: db.prepare(ASSIGN_ITEM),
    setTxn: db.prepare(SET_TXN),
    deleteTxnItems: db.prepare(DELETE_TXN_ITEMS),
    completeTxn: db.prepare(COMPLETE_TXN),
    setBackoff: db.prepare(SET_BACKOFF),
    destinationsWithQueue: db.prepare(DESTINATIONS_WITH_QUEUE),
    selectReceived: db.prepare(SELECT_RECEIVED).pluck(),
    insertReceived: db.prepare(INSERT_RECEIVED),
    pruneReceived: db.prepare(PRUNE_RECEIVED),
  };

  const storeKeys = db.transaction((serverName: string, response: StoredKeyResponse, keys: StoredServerKey[]) => {
    s.upsertResponse.run(serverName, response.json, response.validUntilTs, response.fetchedTs);
    for (const k of keys) s.upsertKey.run(k.serverName, k.keyId, k.publicKey, k.validUntilTs, k.expiredTs, k.fetchedTs);
  });

  const enqueue = db.transaction((items: OutboxItem[], ts: number) => {
    for (const item of items) {
      s.ensureDestination.run(item.destination);
      if (item.coalesceKey !== undefined) s.deleteCoalesced.run(item.destination, item.coalesceKey);
      s.insertOutbox.run(item.destination, item.kind, item.json, item.coalesceKey ?? null, ts);
    }
  });

  const take = db.transaction((destination: string, newTxnId: string, ts: number, maxPdus: number, maxEdus: number): OutboundTransaction | undefined => {
    const d = s.selectDestination.get(destination) as DestinationRow | undefined;
    if (d?.txn_id) {
      const items = s.selectTxnItems.all(destination, d.txn_id) as { kind: string; json: string }[];
      return {
        destination, txnId: d.txn_id, ts: d.txn_ts ?? ts,
        pdus: items.filter((i) => i.kind === 'pdu').map((i) => i.json),
        edus: items.filter((i) => i.kind === 'edu').map((i) => i.json),
      };
    }
    const pdus = s.selectQueued.all(destination, 'pdu', maxPdus) as { id: number; json: string }[];
    const edus = s.selectQueued.all(destination, 'edu', maxEdus) as { id: number; json: string }[];
    if (pdus.length === 0 && edus.length === 0) return undefined;
    s.ensureDestination.run(destination);
    for (const row of [...pdus, ...edus]) s.assignItem.run(newTxnId, row.id);
    s.setTxn.run(newTxnId, ts, destination);
    return { destination, txnId: newTxnId, ts, pdus: pdus.map((r) => r.json), edus: edus.map((r) => r.json) };
  });

  const complete = db.transaction((destination: string, txnId: string, ts: number, succeeded: boolean) => {
    s.deleteTxnItems.run(destination, txnId);
    s.completeTxn.run(succeeded ? 1 : 0, ts, destination, txnId);
  });

  const putReceived = db.transaction((origin: string, txnId: string, responseJson: string, ts: number, pruneBeforeTs: number) => {
    s.insertReceived.run(origin, txnId, responseJson, ts);
    s.pruneReceived.run(pruneBeforeTs);
  });

  return {
    async getServerKeys(serverName) {
      return (s.selectKeys.all(serverName) as KeyRow[]).map(toKey);
    },
    async storeServerKeys(serverName, response, keys) {
      storeKeys(serverName, response, keys);
    },
    async getServerKeyResponse(serverName) {
      const r = s.selectResponse.get(serverName) as { response_json: string; valid_until_ts: number; fetched_ts: number } | undefined;
      return r ? { json: r.response_json, validUntilTs: r.valid_until_ts, fetchedTs: r.fetched_ts } : undefined;
    },
    async enqueue(items, ts) {
      if (items.length > 0) enqueue(items, ts);
    },
    async takeTransaction(destination, newTxnId, ts, maxPdus, maxEdus) {
      return take(destination, newTxnId, ts, maxPdus, maxEdus);
    },
    async completeTransaction(destination, txnId, ts, succeeded) {
      complete(destination, txnId, ts, succeeded);
    },
    async setBackoff(destination, retryIntervalMs, nextAttemptTs) {
      s.setBackoff.run(destination, retryIntervalMs, nextAttemptTs);
    },
    async getDestination(destination) {
      const r = s.selectDestination.get(destination) as DestinationRow | undefined;
      return r ? toDestination(r) : undefined;
    },
    async destinationsWithQueue() {
      return (s.destinationsWithQueue.all() as DestinationRow[]).map(toDestination);
    },
    async getReceivedTransaction(origin, txnId) {
      return s.selectReceived.get(origin, txnId) as string | undefined;
    },
    async putReceivedTransaction(origin, txnId, responseJson, ts, pruneBeforeTs) {
      putReceived(origin, txnId, responseJson, ts, pruneBeforeTs);
    },
  };
}
