-- Pushers (issue 18; pusher.yaml). PostgreSQL dialect of ../0018_pushers.sql: where a user's
-- notifications are pushed, one per (user, app_id, pushkey), owned by the device that set it:
-- deleting the device (logout, device deletion, deactivation) deletes its pushers.
CREATE TABLE pushers (
  user_id        TEXT COLLATE "C" NOT NULL,
  app_id         TEXT COLLATE "C" NOT NULL,
  pushkey        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  kind           TEXT COLLATE "C" NOT NULL,  -- 'http'
  app_display_name TEXT NOT NULL,
  device_display_name TEXT NOT NULL,
  profile_tag    TEXT,
  lang           TEXT NOT NULL,
  data_json      TEXT NOT NULL,              -- `data`, with `url` for http pushers
  pushkey_ts     BIGINT NOT NULL,            -- when the pusher was last set (ms)
  PRIMARY KEY (user_id, app_id, pushkey),
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
-- Without `append`, setting a pusher removes other users' pushers with the same app_id and pushkey.
CREATE INDEX pushers_app_id_pushkey_idx ON pushers (app_id, pushkey);
CREATE INDEX pushers_user_id_device_id_idx ON pushers (user_id, device_id);
