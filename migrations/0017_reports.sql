-- Reports of content (issue 18; report_content.yaml): events, rooms and users reported by local users,
-- for the admin API (spec/admin.md "Reports"). Nothing else reads them.
CREATE TABLE content_reports (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  kind           TEXT NOT NULL,          -- 'event', 'room' or 'user'
  received_ts    INTEGER NOT NULL,
  reporter       TEXT NOT NULL,
  room_id        TEXT,                   -- event and room reports
  event_id       TEXT,                   -- event reports
  event_sender   TEXT,                   -- event reports: who sent the event
  target_user_id TEXT,                   -- user reports
  reason         TEXT,
  score          INTEGER                 -- removed from the spec in v1.18; kept when a client still sends it
) STRICT;
CREATE INDEX content_reports_kind_id_idx ON content_reports (kind, id);
