-- Relations between events, threads and thread-aware notification counts (issue 18; spec/relations.md).

-- One row per shown graph event whose content has an `m.relates_to` with a `rel_type` and an
-- `event_id` (the parent): what /relations pages through, what bundled aggregations count, and how
-- an event finds its thread. Rows go when the child is redacted (the relation is broken). The
-- event's depth and arrival are copied here so a parent's children page in topological order by
-- index alone, however many there are.
CREATE TABLE event_relations (
  event_id        TEXT PRIMARY KEY,
  relates_to_id   TEXT NOT NULL,
  rel_type        TEXT NOT NULL,
  aggregation_key TEXT,                  -- m.annotation `key`
  room_id         TEXT NOT NULL,
  type            TEXT NOT NULL,
  sender          TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  depth           INTEGER NOT NULL,
  stream_ordering INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX event_relations_relates_to_id_depth_stream_ordering_idx ON event_relations (relates_to_id, depth, stream_ordering);
CREATE INDEX event_relations_relates_to_id_rel_type_depth_stream_ordering_idx ON event_relations (relates_to_id, rel_type, depth, stream_ordering);
-- Thread participation and duplicate annotations: a sender's children of a parent.
CREATE INDEX event_relations_relates_to_id_rel_type_sender_idx ON event_relations (relates_to_id, rel_type, sender);

-- The threads of a room (roots with at least one m.thread child) and the topologically newest child
-- of each: /threads lists them newest first.
CREATE TABLE threads (
  room_id         TEXT NOT NULL,
  thread_id       TEXT NOT NULL,         -- the root's event ID
  latest_event_id TEXT NOT NULL,
  latest_depth    INTEGER NOT NULL,
  latest_stream_ordering INTEGER NOT NULL,
  PRIMARY KEY (room_id, thread_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX threads_room_id_latest_depth_latest_stream_ordering_idx ON threads (room_id, latest_depth, latest_stream_ordering);

-- The thread each notification belongs to ('main': the main timeline), so counts and read receipts
-- work per thread (modules/push.md, receipts.md "Threaded read receipts").
ALTER TABLE event_push_actions ADD COLUMN thread_id TEXT NOT NULL DEFAULT 'main';

-- Existing events are indexed by the code that runs this migration (src/storage/sqlite/relations-migration.ts).
