-- Federation transport (issue 16; spec/federation.md): other servers' signing keys, the outbound
-- transaction queue per destination, and the transactions received (deduplicated per origin).

-- Signing keys of other servers (matrix-spec: server-server-api "Retrieving server keys").
-- valid_until_ts is what the key may verify up to: for a current key the lesser of the response's
-- valid_until_ts and 7 days after it was fetched (rooms/v5 "Signing key validity period"); for a key
-- listed in old_verify_keys, its expired_ts.
CREATE TABLE remote_server_keys (
  server_name    TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  public_key     TEXT NOT NULL,
  valid_until_ts INTEGER NOT NULL,
  expired_ts     INTEGER,
  fetched_ts     INTEGER NOT NULL,
  PRIMARY KEY (server_name, key_id)
) STRICT;

-- The newest /_matrix/key/v2/server answer of each server as received and checked (canonical JSON):
-- what the notary endpoints (/_matrix/key/v2/query) serve, with this server's signature added.
CREATE TABLE remote_server_key_responses (
  server_name    TEXT PRIMARY KEY,
  response_json  TEXT NOT NULL,
  valid_until_ts INTEGER NOT NULL,
  fetched_ts     INTEGER NOT NULL
) STRICT;

-- PDUs and EDUs waiting for a destination. A row belongs to a transaction once txn_id is set, and is
-- deleted when the destination acknowledged that transaction (200): nothing acknowledged is sent
-- again, everything else is sent after a restart. coalesce_key: a newer EDU with the same key
-- replaces a queued one that is not in a transaction yet (typing, presence).
CREATE TABLE federation_outbox (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  destination   TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('pdu', 'edu')),
  json          TEXT NOT NULL,
  coalesce_key  TEXT,
  txn_id        TEXT,
  queued_ts     INTEGER NOT NULL
) STRICT;
CREATE INDEX federation_outbox_destination_kind_id_idx ON federation_outbox (destination, kind, id);
CREATE INDEX federation_outbox_destination_coalesce_key_idx ON federation_outbox (destination, coalesce_key) WHERE coalesce_key IS NOT NULL;

-- Per destination: the transaction in flight (retried with the same ID until acknowledged, as
-- transactions.yaml#sendTransaction asks) and the backoff after failures.
CREATE TABLE federation_destinations (
  destination       TEXT PRIMARY KEY,
  txn_id            TEXT,
  txn_ts            INTEGER,
  retry_interval_ms INTEGER NOT NULL DEFAULT 0,
  next_attempt_ts   INTEGER NOT NULL DEFAULT 0,
  last_success_ts   INTEGER
) STRICT;

-- Transactions received, with the answer given, so that a retry of the same (origin, txn_id) gets
-- the same answer without processing its PDUs again; kept for a day.
CREATE TABLE federation_received_transactions (
  origin        TEXT NOT NULL,
  txn_id        TEXT NOT NULL,
  response_json TEXT NOT NULL,
  received_ts   INTEGER NOT NULL,
  PRIMARY KEY (origin, txn_id)
) STRICT;
CREATE INDEX federation_received_transactions_received_ts_idx ON federation_received_transactions (received_ts);
