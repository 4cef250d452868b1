-- Review fixes (issue 13). PostgreSQL dialect of ../0007_review_fixes.sql (written for completeness: a
-- PostgreSQL database is created by this sequence from the start, so both statements meet no old rows).

-- 1. Redacted content must not survive in later events: a state event keeps only the ID of the event
--    it replaced (unsigned.replaces_state); prev_content is read from that event when formatting.
UPDATE events SET unsigned_json = ((unsigned_json::jsonb) - 'prev_content')::text
  WHERE unsigned_json IS NOT NULL AND (unsigned_json::jsonb) ? 'prev_content';

-- 2. A to-device transaction ID is scoped to the request path, which names the event type
--    (client-server-api "Transaction identifiers"): the key gains the scope ('sendToDevice <type>').
--    Earlier rows keep an empty scope (they can no longer match).
ALTER TABLE to_device_txns ADD COLUMN scope TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE to_device_txns ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE to_device_txns DROP CONSTRAINT to_device_txns_pkey;
ALTER TABLE to_device_txns ADD PRIMARY KEY (user_id, device_id, scope, txn_id);
