-- Accounts, devices, access tokens and profiles (issue 2). PostgreSQL dialect of ../0001_accounts.sql.

CREATE TABLE users (
  user_id        TEXT COLLATE "C" PRIMARY KEY,
  localpart      TEXT COLLATE "C" NOT NULL UNIQUE,
  password_hash  TEXT,                       -- scrypt$N$r$p$salt$hash; NULL: no password login
  is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
  is_guest       BOOLEAN NOT NULL DEFAULT FALSE,
  deactivated    BOOLEAN NOT NULL DEFAULT FALSE,
  created_ts     BIGINT NOT NULL
);

CREATE TABLE devices (
  user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  device_id      TEXT COLLATE "C" NOT NULL,
  display_name   TEXT,
  created_ts     BIGINT NOT NULL,
  last_seen_ts   BIGINT,
  last_seen_ip   TEXT,
  last_seen_user_agent TEXT,
  PRIMARY KEY (user_id, device_id)
);

-- Only the SHA-256 of a token is stored; the token itself is shown to the client once.
CREATE TABLE access_tokens (
  token_hash     TEXT COLLATE "C" PRIMARY KEY,
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  created_ts     BIGINT NOT NULL,
  FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_user_id_device_id_idx ON access_tokens (user_id, device_id);

-- Profile fields (displayname, avatar_url, m.tz, custom keys) as JSON values.
CREATE TABLE profile_fields (
  user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  field          TEXT COLLATE "C" NOT NULL,
  value_json     TEXT NOT NULL,
  PRIMARY KEY (user_id, field)
);

-- Counter for generated guest localparts and similar server-wide sequences.
CREATE TABLE counters (
  name           TEXT COLLATE "C" PRIMARY KEY,
  value          BIGINT NOT NULL
);
