-- The media repository (issue 18). PostgreSQL dialect of ../0013_media.sql: metadata of uploaded media
-- (the bytes live in a MediaStore, files under media.store_path). Local media has server_name = this
-- server; media fetched from another server is cached in the same table with uploader NULL.
CREATE TABLE media (
  server_name    TEXT COLLATE "C" NOT NULL,
  media_id       TEXT COLLATE "C" NOT NULL,  -- [A-Za-z0-9_-], random for local media
  uploader       TEXT COLLATE "C",           -- local media: who created it
  created_ts     BIGINT NOT NULL,
  expires_ts     BIGINT,                     -- an ID reserved by /create and not uploaded yet expires then
  uploaded_ts    BIGINT,                     -- NULL: reserved, content not uploaded yet
  content_type   TEXT COLLATE "C",           -- as declared by the uploader
  served_type    TEXT COLLATE "C",           -- what is served: the declared type unless sniffing found it obviously wrong
  upload_name    TEXT COLLATE "C",
  length         BIGINT,
  sha256         TEXT COLLATE "C",
  quarantined_by TEXT COLLATE "C",           -- the admin who quarantined it (quarantined media is never served)
  quarantined_ts BIGINT,
  last_access_ts BIGINT,
  PRIMARY KEY (server_name, media_id)
);
CREATE INDEX media_uploader_created_ts_idx ON media (uploader, created_ts);

-- Thumbnails made on demand, kept beside the media (deleted with it).
CREATE TABLE media_thumbnails (
  server_name    TEXT COLLATE "C" NOT NULL,
  media_id       TEXT COLLATE "C" NOT NULL,
  width          BIGINT NOT NULL,
  height         BIGINT NOT NULL,
  method         TEXT COLLATE "C" NOT NULL,  -- 'crop' or 'scale'
  animated       BOOLEAN NOT NULL,
  content_type   TEXT NOT NULL,
  length         BIGINT NOT NULL,
  store_key      TEXT NOT NULL,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (server_name, media_id, width, height, method, animated)
);
