-- Full-text search (issue 18; POST /search, search.yaml; spec/search.md). PostgreSQL dialect of
-- ../0015_search.sql, with PostgreSQL's own full-text machinery instead of FTS5: one row per shown
-- graph event with searchable text, keyed by the event's stream_ordering (SQLite: the FTS5 rowid);
-- `vector` holds its words (tokenized and folded in src/storage/postgres/search.ts exactly as the
-- query is, so both engines split and fold words alike whatever the database's locale), with
-- positions for phrases, under a GIN index. A redaction deletes the event's row.
CREATE TABLE event_search (
  stream_ordering BIGINT PRIMARY KEY,
  value          TEXT NOT NULL,
  room_id        TEXT COLLATE "C" NOT NULL,
  key            TEXT COLLATE "C" NOT NULL,
  vector         TSVECTOR NOT NULL
);
CREATE INDEX event_search_vector_idx ON event_search USING GIN (vector);

-- Existing events are indexed by the code that runs this migration (src/storage/postgres/index-migrations.ts).
