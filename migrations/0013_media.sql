-- The media repository (issue 18): metadata of uploaded media; the bytes live in a MediaStore
-- (files under media.store_path). Local media has server_name = this server; media fetched from
-- another server (federation, later) is cached in the same table with uploader NULL.
CREATE TABLE media (
  server_name    TEXT NOT NULL,
  media_id       TEXT NOT NULL,              -- [A-Za-z0-9_-], random for local media
  uploader       TEXT,                       -- local media: who created it
  created_ts     INTEGER NOT NULL,
  expires_ts     INTEGER,                    -- an ID reserved by /create and not uploaded yet expires then
  uploaded_ts    INTEGER,                    -- NULL: reserved, content not uploaded yet
  content_type   TEXT,                       -- as declared by the uploader
  served_type    TEXT,                       -- what is served: the declared type unless sniffing found it obviously wrong
  upload_name    TEXT,
  length         INTEGER,
  sha256         TEXT,
  quarantined_by TEXT,                       -- the admin who quarantined it (quarantined media is never served)
  quarantined_ts INTEGER,
  last_access_ts INTEGER,
  PRIMARY KEY (server_name, media_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX media_uploader_created_ts_idx ON media (uploader, created_ts);

-- Thumbnails made on demand, kept beside the media (deleted with it).
CREATE TABLE media_thumbnails (
  server_name    TEXT NOT NULL,
  media_id       TEXT NOT NULL,
  width          INTEGER NOT NULL,
  height         INTEGER NOT NULL,
  method         TEXT NOT NULL,              -- 'crop' or 'scale'
  animated       INTEGER NOT NULL,
  content_type   TEXT NOT NULL,
  length         INTEGER NOT NULL,
  store_key      TEXT NOT NULL,
  created_ts     INTEGER NOT NULL,
  PRIMARY KEY (server_name, media_id, width, height, method, animated)
) STRICT, WITHOUT ROWID;
