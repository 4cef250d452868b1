-- Review fixes (issue 13).

-- 1. Redacted content must not survive in later events: a state event keeps only the ID of the event
--    it replaced (unsigned.replaces_state); prev_content is read from that event when formatting.
UPDATE events SET unsigned_json = json_remove(unsigned_json, '$.prev_content')
  WHERE unsigned_json IS NOT NULL AND json_extract(unsigned_json, '$.prev_content') IS NOT NULL;

-- 2. A to-device transaction ID is scoped to the request path, which names the event type
--    (client-server-api "Transaction identifiers"): the key gains the scope ('sendToDevice <type>').
--    Earlier rows did not record their type; they keep an empty scope (they can no longer match).
CREATE TABLE to_device_txns_scoped (
  user_id        TEXT NOT NULL,
  device_id      TEXT NOT NULL,
  scope          TEXT NOT NULL,
  txn_id         TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, scope, txn_id)
) STRICT, WITHOUT ROWID;
INSERT INTO to_device_txns_scoped (user_id, device_id, scope, txn_id, created_ts)
  SELECT user_id, device_id, '', txn_id, created_ts FROM to_device_txns;
DROP TABLE to_device_txns;
ALTER TABLE to_device_txns_scoped RENAME TO to_device_txns;
