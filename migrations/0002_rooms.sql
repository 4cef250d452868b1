-- Rooms, events, state and membership (issue 3).

-- The server's ed25519 signing keys (seed as unpadded base64). One is active.
CREATE TABLE server_keys (
  key_id         TEXT PRIMARY KEY,
  seed           TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  active         INTEGER NOT NULL DEFAULT 1
) STRICT;

CREATE TABLE rooms (
  room_id        TEXT PRIMARY KEY,
  room_version   TEXT NOT NULL,
  creator        TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  visibility     TEXT NOT NULL DEFAULT 'private'      -- published in the room directory: 'public'
) STRICT;

-- Every event, in the federation format of its room version (json), with a global, monotonically
-- increasing position (stream_ordering) that sync tokens build on.
CREATE TABLE events (
  stream_ordering INTEGER PRIMARY KEY,
  event_id       TEXT NOT NULL UNIQUE,
  room_id        TEXT NOT NULL REFERENCES rooms(room_id),
  type           TEXT NOT NULL,
  state_key      TEXT,
  sender         TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  depth          INTEGER NOT NULL,
  membership     TEXT,                 -- content.membership of m.room.member events
  json           TEXT NOT NULL,        -- the PDU; replaced by its redacted form once redacted
  unsigned_json  TEXT,                 -- prev_content, prev_sender, replaces_state, computed when persisted
  redacted_by    TEXT,                 -- the redaction event that applies, if any
  txn_user_id    TEXT,                 -- who sent it with which transaction ID (unsigned.transaction_id)
  txn_device_id  TEXT,
  txn_id         TEXT,
  server_local   INTEGER NOT NULL DEFAULT 0  -- 1: server-generated, outside the room's event graph
) STRICT;
-- /messages pages and timelines: an index range per room, so a page costs the same at any history size.
CREATE INDEX events_room_id_stream_ordering_idx ON events (room_id, stream_ordering);
-- State at a position: the latest state event per (type, state_key) at or before it.
CREATE INDEX events_room_id_type_state_key_stream_ordering_idx ON events (room_id, type, state_key, stream_ordering)
  WHERE state_key IS NOT NULL;

CREATE TABLE current_state (
  room_id        TEXT NOT NULL,
  type           TEXT NOT NULL,
  state_key      TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE room_memberships (
  room_id        TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  membership     TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  forgotten      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX room_memberships_user_id_membership_idx ON room_memberships (user_id, membership);

-- The room's forward extremities: the events the next event will name in prev_events.
CREATE TABLE room_extremities (
  room_id        TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
) STRICT, WITHOUT ROWID;

-- Idempotent sends: (user, device, request path, txnId) -> event ID. A transaction ID is scoped to
-- the device and the endpoint path (client-server-api "Transaction identifiers"): the scope is e.g.
-- 'send <room> <type>' or 'redact <room> <event>'.
CREATE TABLE event_txns (
  user_id        TEXT NOT NULL,
  device_id      TEXT NOT NULL,
  scope          TEXT NOT NULL,
  txn_id         TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, scope, txn_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE room_aliases (
  alias          TEXT PRIMARY KEY,
  room_id        TEXT NOT NULL REFERENCES rooms(room_id),
  creator        TEXT NOT NULL,
  created_ts     INTEGER NOT NULL
) STRICT;
CREATE INDEX room_aliases_room_id_idx ON room_aliases (room_id);
