-- Accounts, devices, access tokens and profiles (issue 2).

CREATE TABLE users (
  user_id        TEXT PRIMARY KEY,
  localpart      TEXT NOT NULL UNIQUE,
  password_hash  TEXT,                       -- scrypt$N$r$p$salt$hash; NULL: no password login
  is_admin       INTEGER NOT NULL DEFAULT 0,
  is_guest       INTEGER NOT NULL DEFAULT 0,
  deactivated    INTEGER NOT NULL DEFAULT 0,
  created_ts     INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
  user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  device_id      TEXT NOT NULL,
  display_name   TEXT,
  created_ts     INTEGER NOT NULL,
  last_seen_ts   INTEGER,
  last_seen_ip   TEXT,
  last_seen_user_agent TEXT,
  PRIMARY KEY (user_id, device_id)
) STRICT;

-- Only the SHA-256 of a token is stored; the token itself is shown to the client once.
CREATE TABLE access_tokens (
  token_hash     TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL,
  device_id      TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX access_tokens_user_id_device_id_idx ON access_tokens (user_id, device_id);

-- Profile fields (displayname, avatar_url, m.tz, custom keys) as JSON values.
CREATE TABLE profile_fields (
  user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  field          TEXT NOT NULL,
  value_json     TEXT NOT NULL,
  PRIMARY KEY (user_id, field)
) STRICT;

-- Counter for generated guest localparts and similar server-wide sequences.
CREATE TABLE counters (
  name           TEXT PRIMARY KEY,
  value          INTEGER NOT NULL
) STRICT;
