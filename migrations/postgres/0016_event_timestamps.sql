-- GET /rooms/{roomId}/timestamp_to_event (issue 18): a room's events by origin_server_ts.
-- PostgreSQL dialect of ../0016_event_timestamps.sql (the same statement).
CREATE INDEX events_room_id_origin_server_ts_idx ON events (room_id, origin_server_ts);
