-- Relations between events, threads and thread-aware notification counts (issue 18; spec/relations.md).
-- PostgreSQL dialect of ../0014_relations.sql.

-- One row per shown graph event whose content has an `m.relates_to` with a `rel_type` and an
-- `event_id` (the parent); rows go when the child is redacted. The event's depth and arrival are
-- copied here so a parent's children page in topological order by index alone.
CREATE TABLE event_relations (
  event_id        TEXT COLLATE "C" PRIMARY KEY,
  relates_to_id   TEXT COLLATE "C" NOT NULL,
  rel_type        TEXT COLLATE "C" NOT NULL,
  aggregation_key TEXT COLLATE "C",      -- m.annotation `key`
  room_id         TEXT COLLATE "C" NOT NULL,
  type            TEXT COLLATE "C" NOT NULL,
  sender          TEXT COLLATE "C" NOT NULL,
  origin_server_ts BIGINT NOT NULL,
  depth           BIGINT NOT NULL,
  stream_ordering BIGINT NOT NULL
);
CREATE INDEX event_relations_relates_to_id_depth_stream_ordering_idx ON event_relations (relates_to_id, depth, stream_ordering);
-- (PostgreSQL keeps the first 63 bytes of this name: event_relations_relates_to_id_rel_type_depth_stream_ordering_id.)
CREATE INDEX event_relations_relates_to_id_rel_type_depth_stream_ordering_idx ON event_relations (relates_to_id, rel_type, depth, stream_ordering);
-- Thread participation and duplicate annotations: a sender's children of a parent.
CREATE INDEX event_relations_relates_to_id_rel_type_sender_idx ON event_relations (relates_to_id, rel_type, sender);

-- The threads of a room (roots with at least one m.thread child) and the topologically newest child
-- of each: /threads lists them newest first.
CREATE TABLE threads (
  room_id         TEXT COLLATE "C" NOT NULL,
  thread_id       TEXT COLLATE "C" NOT NULL,  -- the root's event ID
  latest_event_id TEXT COLLATE "C" NOT NULL,
  latest_depth    BIGINT NOT NULL,
  latest_stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (room_id, thread_id)
);
CREATE INDEX threads_room_id_latest_depth_latest_stream_ordering_idx ON threads (room_id, latest_depth, latest_stream_ordering);

-- The thread each notification belongs to ('main': the main timeline).
ALTER TABLE event_push_actions ADD COLUMN thread_id TEXT COLLATE "C" NOT NULL DEFAULT 'main';

-- Existing events are indexed by the code that runs this migration (src/storage/postgres/index-migrations.ts).
