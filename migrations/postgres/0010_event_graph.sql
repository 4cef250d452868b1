-- Rooms as event graphs (issue 15; spec/event-graph.md has the model and a diagram). PostgreSQL dialect
-- of ../0010_event_graph.sql. The SQLite migration converts existing rooms with code
-- (src/storage/sqlite/graph-migration.ts); a PostgreSQL database cannot hold rooms written before this
-- migration (the engine came later), so nothing is converted here (src/storage/postgres/migrate.ts).

-- Each event's place in the graph (see ../0010_event_graph.sql).
ALTER TABLE events ADD COLUMN outlier BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE events ADD COLUMN rejected TEXT;
ALTER TABLE events ADD COLUMN soft_failed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE events ADD COLUMN state_before BIGINT;
ALTER TABLE events ADD COLUMN state_after BIGINT;
-- The newest server-generated event of a room (each names the previous one: spec/server-events.md).
CREATE INDEX events_room_id_server_local_idx ON events (room_id, stream_ordering) WHERE server_local;
-- /messages pages in the room's topological order: depth, then arrival.
CREATE INDEX events_room_id_depth_stream_ordering_idx ON events (room_id, depth, stream_ordering);

-- prev_events edges, both ways.
CREATE TABLE event_edges (
  event_id       TEXT COLLATE "C" NOT NULL,
  prev_event_id  TEXT COLLATE "C" NOT NULL,
  room_id        TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (event_id, prev_event_id)
);
CREATE INDEX event_edges_prev_event_id_idx ON event_edges (prev_event_id);

-- Prev events that are named but not stored (a gap backfill or get_missing_events may fill).
CREATE TABLE event_backward_extremities (
  room_id        TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (room_id, event_id)
);

-- State groups: a full snapshot (prev_group NULL) or a delta on prev_group; `hops` counts the deltas
-- down to the snapshot.
CREATE TABLE state_groups (
  id             BIGINT PRIMARY KEY,
  room_id        TEXT COLLATE "C" NOT NULL,
  prev_group     BIGINT,
  hops           BIGINT NOT NULL
);

-- The entries of a group (event_id NULL: the key is absent from this state).
CREATE TABLE state_group_entries (
  group_id       BIGINT NOT NULL,
  type           TEXT COLLATE "C" NOT NULL,
  state_key      TEXT COLLATE "C" NOT NULL,
  event_id       TEXT COLLATE "C",
  PRIMARY KEY (group_id, type, state_key)
);

-- Every change of a room's current (resolved) state, at the stream position where it took effect.
CREATE TABLE current_state_deltas (
  room_id        TEXT COLLATE "C" NOT NULL,
  type           TEXT COLLATE "C" NOT NULL,
  state_key      TEXT COLLATE "C" NOT NULL,
  stream_ordering BIGINT NOT NULL,
  event_id       TEXT COLLATE "C",
  prev_event_id  TEXT COLLATE "C",
  PRIMARY KEY (room_id, type, state_key, stream_ordering)
);
CREATE INDEX current_state_deltas_room_id_stream_ordering_idx ON current_state_deltas (room_id, stream_ordering);

-- The state group of each room's current state (the resolution of its forward extremities' states).
ALTER TABLE rooms ADD COLUMN state_group BIGINT;
