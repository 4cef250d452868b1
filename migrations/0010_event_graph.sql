-- Rooms as event graphs (issue 15; spec/event-graph.md has the model and a diagram).

-- Each event's place in the graph. An outlier was stored without its state (its prev events are not
-- known here); a rejected event failed the auth rules (it never becomes state or a prev event); a
-- soft-failed event passed them at its own position but not against the current state (stored, never
-- sent to clients). state_before / state_after name the state groups of the room state just before
-- and just after the event (equal for non-state events; NULL for outliers and for the create event's
-- empty before-state).
ALTER TABLE events ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN rejected TEXT;
ALTER TABLE events ADD COLUMN soft_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN state_before INTEGER;
ALTER TABLE events ADD COLUMN state_after INTEGER;
-- The newest server-generated event of a room (each names the previous one: spec/server-events.md).
CREATE INDEX events_room_id_server_local_idx ON events (room_id, stream_ordering) WHERE server_local = 1;
-- /messages pages in the room's topological order: depth, then arrival.
CREATE INDEX events_room_id_depth_stream_ordering_idx ON events (room_id, depth, stream_ordering);

-- prev_events edges, both ways: an event's parents, and whether an event has children yet (a new event
-- is a forward extremity only while nothing names it).
CREATE TABLE event_edges (
  event_id       TEXT NOT NULL,
  prev_event_id  TEXT NOT NULL,
  room_id        TEXT NOT NULL,
  PRIMARY KEY (event_id, prev_event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX event_edges_prev_event_id_idx ON event_edges (prev_event_id);

-- Prev events that are named but not stored (a gap backfill or get_missing_events may fill).
CREATE TABLE event_backward_extremities (
  room_id        TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
) STRICT, WITHOUT ROWID;

-- State groups: a room state is a group, either a full snapshot (prev_group NULL) or a delta on
-- prev_group; `hops` counts the deltas down to the snapshot (a new snapshot is written past 100), so
-- reading any group is one query over at most 101 groups.
CREATE TABLE state_groups (
  id             INTEGER PRIMARY KEY,
  room_id        TEXT NOT NULL,
  prev_group     INTEGER,
  hops           INTEGER NOT NULL
) STRICT;

-- The entries of a group: the whole state for a snapshot, the changed keys for a delta (event_id NULL:
-- the key is absent from this state, which a resolution can cause).
CREATE TABLE state_group_entries (
  group_id       INTEGER NOT NULL,
  type           TEXT NOT NULL,
  state_key      TEXT NOT NULL,
  event_id       TEXT,
  PRIMARY KEY (group_id, type, state_key)
) STRICT, WITHOUT ROWID;

-- Every change of a room's current (resolved) state, at the stream position where it took effect:
-- what /sync reads as "the state at position N", and the history of one key (a user's membership,
-- the history visibility) that visibility checks need, whatever forks the graph had.
CREATE TABLE current_state_deltas (
  room_id        TEXT NOT NULL,
  type           TEXT NOT NULL,
  state_key      TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  event_id       TEXT,
  prev_event_id  TEXT,
  PRIMARY KEY (room_id, type, state_key, stream_ordering)
) STRICT, WITHOUT ROWID;
-- The changes after a position, in order (undoing recent changes of the cached current state).
CREATE INDEX current_state_deltas_room_id_stream_ordering_idx ON current_state_deltas (room_id, stream_ordering);

-- The state group of each room's current state (the resolution of its forward extremities' states).
ALTER TABLE rooms ADD COLUMN state_group INTEGER;

-- The room_extremities table of 0002 keeps the forward extremities; events that are not graph events
-- (server-generated ones) never enter it.

-- Existing rooms are converted by the code that runs this migration (src/storage/sqlite/graph-migration.ts):
-- it walks each room's events in stream order and writes their groups, edges and deltas.
