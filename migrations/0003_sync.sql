-- Sync: filters, account data, receipts, to-device messages, push notification counts (issue 4).
-- Every row a client syncs carries a position (stream_ordering) from the same global counter as events.

CREATE TABLE filters (
  user_id        TEXT NOT NULL,
  filter_id      INTEGER NOT NULL,
  filter_json    TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
) STRICT, WITHOUT ROWID;

-- Global account data has room_id ''.
CREATE TABLE account_data (
  user_id        TEXT NOT NULL,
  room_id        TEXT NOT NULL,
  type           TEXT NOT NULL,
  content_json   TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
) STRICT, WITHOUT ROWID;
CREATE INDEX account_data_user_id_stream_ordering_idx ON account_data (user_id, stream_ordering);

-- Latest receipt per (room, type, user, thread); thread_id '' is the unthreaded receipt.
CREATE TABLE receipts (
  room_id        TEXT NOT NULL,
  receipt_type   TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  thread_id      TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  event_stream_ordering INTEGER NOT NULL,
  ts             INTEGER NOT NULL,
  stream_ordering INTEGER NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX receipts_room_id_stream_ordering_idx ON receipts (room_id, stream_ordering);

CREATE TABLE to_device_messages (
  stream_ordering INTEGER PRIMARY KEY,
  user_id        TEXT NOT NULL,
  device_id      TEXT NOT NULL,
  sender         TEXT NOT NULL,
  type           TEXT NOT NULL,
  content_json   TEXT NOT NULL
) STRICT;
CREATE INDEX to_device_messages_user_id_device_id_stream_ordering_idx ON to_device_messages (user_id, device_id, stream_ordering);

CREATE TABLE to_device_txns (
  user_id        TEXT NOT NULL,
  device_id      TEXT NOT NULL,
  txn_id         TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
) STRICT, WITHOUT ROWID;

-- Events that notify a user under their push rules; counted after the user's read receipt.
CREATE TABLE event_push_actions (
  user_id        TEXT NOT NULL,
  room_id        TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  event_id       TEXT NOT NULL,
  highlight      INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, stream_ordering)
) STRICT, WITHOUT ROWID;
