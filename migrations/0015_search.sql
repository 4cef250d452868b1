-- Full-text search (issue 18; POST /search, search.yaml): the searchable text of each shown graph
-- event (content.body of m.room.message, content.name of m.room.name, content.topic of m.room.topic),
-- in an FTS5 index whose rowid is the event's stream_ordering. A redaction deletes the event's row.
CREATE VIRTUAL TABLE event_search USING fts5(
  value,
  room_id UNINDEXED,
  key UNINDEXED,
  tokenize = 'unicode61 remove_diacritics 2'
);

-- Existing events are indexed by the code that runs this migration (src/storage/sqlite/index-migrations.ts).
