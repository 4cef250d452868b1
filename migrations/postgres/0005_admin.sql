-- Server notices and the admin API (issue 6). PostgreSQL dialect of ../0005_admin.sql.

-- Each user's server-notices room (one private room per user, created and owned by the server).
CREATE TABLE server_notice_rooms (
  user_id        TEXT COLLATE "C" PRIMARY KEY,
  room_id        TEXT COLLATE "C" NOT NULL,
  created_ts     BIGINT NOT NULL
);

-- Idempotent admin requests: (admin, path, txnId) -> the response that was given.
CREATE TABLE admin_txns (
  user_id        TEXT COLLATE "C" NOT NULL,
  scope          TEXT COLLATE "C" NOT NULL,
  txn_id         TEXT COLLATE "C" NOT NULL,
  response_json  TEXT NOT NULL,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (user_id, scope, txn_id)
);

-- Rooms shut down by an admin: nobody may join them again (replaced by room_blocks in 0008).
ALTER TABLE rooms ADD COLUMN blocked BOOLEAN NOT NULL DEFAULT FALSE;
