-- Sync: filters, account data, receipts, to-device messages, push notification counts (issue 4).
-- PostgreSQL dialect of ../0003_sync.sql. Every row a client syncs carries a position (stream_ordering)
-- from the same global counter as events.

CREATE TABLE filters (
  user_id        TEXT COLLATE "C" NOT NULL,
  filter_id      BIGINT NOT NULL,
  filter_json    TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);

-- Global account data has room_id ''.
CREATE TABLE account_data (
  user_id        TEXT COLLATE "C" NOT NULL,
  room_id        TEXT COLLATE "C" NOT NULL,
  type           TEXT COLLATE "C" NOT NULL,
  content_json   TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_user_id_stream_ordering_idx ON account_data (user_id, stream_ordering);

-- Latest receipt per (room, type, user, thread); thread_id '' is the unthreaded receipt.
CREATE TABLE receipts (
  room_id        TEXT COLLATE "C" NOT NULL,
  receipt_type   TEXT COLLATE "C" NOT NULL,
  user_id        TEXT COLLATE "C" NOT NULL,
  thread_id      TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  event_stream_ordering BIGINT NOT NULL,
  ts             BIGINT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_room_id_stream_ordering_idx ON receipts (room_id, stream_ordering);

CREATE TABLE to_device_messages (
  stream_ordering BIGINT PRIMARY KEY,
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  sender         TEXT COLLATE "C" NOT NULL,
  type           TEXT COLLATE "C" NOT NULL,
  content_json   TEXT NOT NULL
);
CREATE INDEX to_device_messages_user_id_device_id_stream_ordering_idx ON to_device_messages (user_id, device_id, stream_ordering);

CREATE TABLE to_device_txns (
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  txn_id         TEXT COLLATE "C" NOT NULL,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Events that notify a user under their push rules; counted after the user's read receipt.
CREATE TABLE event_push_actions (
  user_id        TEXT COLLATE "C" NOT NULL,
  room_id        TEXT COLLATE "C" NOT NULL,
  stream_ordering BIGINT NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  highlight      BOOLEAN NOT NULL,
  PRIMARY KEY (user_id, room_id, stream_ordering)
);
