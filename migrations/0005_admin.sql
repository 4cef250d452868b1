-- Server notices and the admin API (issue 6).

-- Each user's server-notices room (one private room per user, created and owned by the server).
CREATE TABLE server_notice_rooms (
  user_id        TEXT PRIMARY KEY,
  room_id        TEXT NOT NULL,
  created_ts     INTEGER NOT NULL
) STRICT;

-- Idempotent admin requests: (admin, path, txnId) -> the response that was given.
CREATE TABLE admin_txns (
  user_id        TEXT NOT NULL,
  scope          TEXT NOT NULL,
  txn_id         TEXT NOT NULL,
  response_json  TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  PRIMARY KEY (user_id, scope, txn_id)
) STRICT, WITHOUT ROWID;

-- Rooms shut down by an admin: nobody may join them again.
ALTER TABLE rooms ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
