-- Rooms, events, state and membership (issue 3). PostgreSQL dialect of ../0002_rooms.sql.

-- The server's ed25519 signing keys (seed as unpadded base64). One is active.
CREATE TABLE server_keys (
  key_id         TEXT COLLATE "C" PRIMARY KEY,
  seed           TEXT NOT NULL,
  created_ts     BIGINT NOT NULL,
  active         BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE rooms (
  room_id        TEXT COLLATE "C" PRIMARY KEY,
  room_version   TEXT COLLATE "C" NOT NULL,
  creator        TEXT COLLATE "C" NOT NULL,
  created_ts     BIGINT NOT NULL,
  visibility     TEXT COLLATE "C" NOT NULL DEFAULT 'private'      -- published in the room directory: 'public'
);

-- Every event, in the federation format of its room version (json), with a global, monotonically
-- increasing position (stream_ordering) that sync tokens build on.
CREATE TABLE events (
  stream_ordering BIGINT PRIMARY KEY,
  event_id       TEXT COLLATE "C" NOT NULL UNIQUE,
  room_id        TEXT COLLATE "C" NOT NULL REFERENCES rooms(room_id),
  type           TEXT COLLATE "C" NOT NULL,
  state_key      TEXT COLLATE "C",
  sender         TEXT COLLATE "C" NOT NULL,
  origin_server_ts BIGINT NOT NULL,
  depth          BIGINT NOT NULL,
  membership     TEXT COLLATE "C",     -- content.membership of m.room.member events
  json           TEXT NOT NULL,        -- the PDU; replaced by its redacted form once redacted
  unsigned_json  TEXT,                 -- prev_content, prev_sender, replaces_state, computed when persisted
  redacted_by    TEXT COLLATE "C",     -- the redaction event that applies, if any
  txn_user_id    TEXT COLLATE "C",     -- who sent it with which transaction ID (unsigned.transaction_id)
  txn_device_id  TEXT COLLATE "C",
  txn_id         TEXT COLLATE "C",
  server_local   BOOLEAN NOT NULL DEFAULT FALSE  -- server-generated, outside the room's event graph
);
-- /messages pages and timelines: an index range per room, so a page costs the same at any history size.
CREATE INDEX events_room_id_stream_ordering_idx ON events (room_id, stream_ordering);
-- State at a position: the latest state event per (type, state_key) at or before it.
CREATE INDEX events_room_id_type_state_key_stream_ordering_idx ON events (room_id, type, state_key, stream_ordering)
  WHERE state_key IS NOT NULL;

CREATE TABLE current_state (
  room_id        TEXT COLLATE "C" NOT NULL,
  type           TEXT COLLATE "C" NOT NULL,
  state_key      TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);

CREATE TABLE room_memberships (
  room_id        TEXT COLLATE "C" NOT NULL,
  user_id        TEXT COLLATE "C" NOT NULL,
  membership     TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  stream_ordering BIGINT NOT NULL,
  forgotten      BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_memberships_user_id_membership_idx ON room_memberships (user_id, membership);

-- The room's forward extremities: the events the next event will name in prev_events.
CREATE TABLE room_extremities (
  room_id        TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (room_id, event_id)
);

-- Idempotent sends: (user, device, request path, txnId) -> event ID (see ../0002_rooms.sql).
CREATE TABLE event_txns (
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  scope          TEXT COLLATE "C" NOT NULL,
  txn_id         TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, scope, txn_id)
);

CREATE TABLE room_aliases (
  alias          TEXT COLLATE "C" PRIMARY KEY,
  room_id        TEXT COLLATE "C" NOT NULL REFERENCES rooms(room_id),
  creator        TEXT COLLATE "C" NOT NULL,
  created_ts     BIGINT NOT NULL
);
CREATE INDEX room_aliases_room_id_idx ON room_aliases (room_id);
