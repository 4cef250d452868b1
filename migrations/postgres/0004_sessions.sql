-- Sessions, presence and the position counter (issue 5). PostgreSQL dialect of ../0004_sessions.sql.
-- Sessions and typing are ephemeral and not stored; what survives a restart is each user's status
-- message and last-active time, and the ceilings of the reserved position blocks.

CREATE TABLE presence_status (
  user_id        TEXT COLLATE "C" PRIMARY KEY,
  status_msg     TEXT,
  last_active_ts BIGINT
);

CREATE TABLE server_meta (
  key            TEXT COLLATE "C" PRIMARY KEY,
  value          TEXT NOT NULL
);
