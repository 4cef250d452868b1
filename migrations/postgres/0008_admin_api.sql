-- Admin API additions that synadm and other Synapse admin tools use (issue 14). PostgreSQL dialect of
-- ../0008_admin_api.sql.

-- An access token may expire: the admin API's "login as a user" takes `valid_until_ms`.
ALTER TABLE access_tokens ADD COLUMN valid_until_ms BIGINT;

-- Shadow-banned users: their sends are answered as usual but reach nobody.
ALTER TABLE users ADD COLUMN shadow_banned BOOLEAN NOT NULL DEFAULT FALSE;

-- Blocked rooms (the admin block API and room shutdowns), also rooms this server does not know yet;
-- who blocked it (null for blocks made before this table existed). Replaces rooms.blocked.
CREATE TABLE room_blocks (
  room_id        TEXT COLLATE "C" PRIMARY KEY,
  blocked_by     TEXT COLLATE "C",
  blocked_ts     BIGINT NOT NULL
);
INSERT INTO room_blocks (room_id, blocked_by, blocked_ts) SELECT room_id, NULL, created_ts FROM rooms WHERE blocked;
ALTER TABLE rooms DROP COLUMN blocked;

-- Registration tokens (m.login.registration_token; Synapse's registration token admin API).
-- `pending` uses are not stored: they belong to live user-interactive auth sessions.
CREATE TABLE registration_tokens (
  token          TEXT COLLATE "C" PRIMARY KEY,
  uses_allowed   BIGINT,                     -- NULL: unlimited
  completed      BIGINT NOT NULL DEFAULT 0,  -- registrations completed with it
  expiry_time    BIGINT,                     -- ms since the epoch; NULL: never expires
  created_ts     BIGINT NOT NULL
);
