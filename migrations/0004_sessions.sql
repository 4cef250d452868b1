-- Sessions, presence and the position counter (issue 5). Sessions and typing are ephemeral and not
-- stored; what survives a restart is each user's status message and last-active time, and the
-- highest position ever handed out, so positions of ephemeral changes are never reused.

CREATE TABLE presence_status (
  user_id        TEXT PRIMARY KEY,
  status_msg     TEXT,
  last_active_ts INTEGER
) STRICT;

CREATE TABLE server_meta (
  key            TEXT PRIMARY KEY,
  value          TEXT NOT NULL
) STRICT;
