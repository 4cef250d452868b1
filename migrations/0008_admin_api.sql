-- Admin API additions that synadm and other Synapse admin tools use (issue 14). Numbered 0008:
-- 0007 is reserved for another branch (migrate.ts accepts a gap and applies a lower number later).

-- An access token may expire: the admin API's "login as a user" takes `valid_until_ms`.
ALTER TABLE access_tokens ADD COLUMN valid_until_ms INTEGER;

-- Shadow-banned users: their sends are answered as usual but reach nobody.
ALTER TABLE users ADD COLUMN shadow_banned INTEGER NOT NULL DEFAULT 0;

-- Blocked rooms (the admin block API and room shutdowns), also rooms this server does not know yet;
-- who blocked it (null for blocks made before this table existed). Replaces rooms.blocked.
CREATE TABLE room_blocks (
  room_id        TEXT PRIMARY KEY,
  blocked_by     TEXT,
  blocked_ts     INTEGER NOT NULL
) STRICT;
INSERT INTO room_blocks (room_id, blocked_by, blocked_ts) SELECT room_id, NULL, created_ts FROM rooms WHERE blocked = 1;
ALTER TABLE rooms DROP COLUMN blocked;

-- Registration tokens (m.login.registration_token; Synapse's registration token admin API).
-- `pending` uses are not stored: they belong to live user-interactive auth sessions, which are in
-- memory, so a restart never leaves a token with uses pending forever.
CREATE TABLE registration_tokens (
  token          TEXT PRIMARY KEY,
  uses_allowed   INTEGER,                    -- NULL: unlimited
  completed      INTEGER NOT NULL DEFAULT 0, -- registrations completed with it
  expiry_time    INTEGER,                    -- ms since the epoch; NULL: never expires
  created_ts     INTEGER NOT NULL
) STRICT;
