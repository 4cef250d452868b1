-- End-to-end encryption (issue 18). PostgreSQL dialect of ../0012_e2ee.sql: device keys, one-time and
-- fallback keys, cross-signing keys and signatures, device-list changes, server-side key backups. The
-- server stores and routes public keys and encrypted backups; it never sees plaintext.

-- Each device's identity keys as uploaded (signed JSON; matrix-spec: keys.yaml#uploadKeys).
CREATE TABLE e2e_device_keys (
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  key_json       TEXT NOT NULL,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- One-time keys: claimed at most once, oldest upload first (`seq` orders the uploads).
CREATE TABLE e2e_one_time_keys (
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  algorithm      TEXT COLLATE "C" NOT NULL,
  key_id         TEXT COLLATE "C" NOT NULL,
  key_json       TEXT NOT NULL,
  seq            BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, algorithm, key_id)
);
CREATE INDEX e2e_one_time_keys_user_id_device_id_algorithm_seq_idx ON e2e_one_time_keys (user_id, device_id, algorithm, seq);

-- At most one fallback key per device and algorithm; `used` once a claim handed it out.
CREATE TABLE e2e_fallback_keys (
  user_id        TEXT COLLATE "C" NOT NULL,
  device_id      TEXT COLLATE "C" NOT NULL,
  algorithm      TEXT COLLATE "C" NOT NULL,
  key_id         TEXT COLLATE "C" NOT NULL,
  key_json       TEXT NOT NULL,
  used           BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (user_id, device_id, algorithm)
);

-- Cross-signing keys (usage 'master', 'self_signing', 'user_signing'), one of each per user.
CREATE TABLE e2e_cross_signing_keys (
  user_id        TEXT COLLATE "C" NOT NULL,
  usage          TEXT COLLATE "C" NOT NULL,
  public_key     TEXT COLLATE "C" NOT NULL,  -- unpadded base64 ed25519 key (the key ID is ed25519:<public_key>)
  key_json       TEXT NOT NULL,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (user_id, usage)
);

-- Signatures uploaded through /keys/signatures/upload: signer (user, key ID) on a target key (the
-- target user's device ID, or the public key of their master key).
CREATE TABLE e2e_cross_signing_signatures (
  signer_user_id TEXT COLLATE "C" NOT NULL,
  signer_key_id  TEXT COLLATE "C" NOT NULL,
  target_user_id TEXT COLLATE "C" NOT NULL,
  target_key_id  TEXT COLLATE "C" NOT NULL,
  signature      TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);
CREATE INDEX e2e_cross_signing_signatures_signer_user_id_idx ON e2e_cross_signing_signatures (signer_user_id);

-- Each change of a user's devices or cross-signing keys, at its position in the global stream
-- (/sync device_lists.changed, /keys/changes). only_for: the change concerns one user alone; NULL:
-- everyone sharing a room.
CREATE TABLE device_list_changes (
  stream_ordering BIGINT PRIMARY KEY,
  user_id        TEXT COLLATE "C" NOT NULL,
  only_for       TEXT COLLATE "C"
);
CREATE INDEX device_list_changes_user_id_stream_ordering_idx ON device_list_changes (user_id, stream_ordering);

-- Server-side key backups (matrix-spec: key_backup.yaml): versions per user, numbered 1, 2, ...; a
-- deleted version keeps its row (deleted) so its number is never reused and deleting it again
-- succeeds. etag changes whenever the version's keys change.
CREATE TABLE e2e_room_keys_versions (
  user_id        TEXT COLLATE "C" NOT NULL,
  version        BIGINT NOT NULL,
  algorithm      TEXT NOT NULL,
  auth_data_json TEXT NOT NULL,
  etag           BIGINT NOT NULL DEFAULT 0,
  deleted        BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE e2e_room_keys (
  user_id        TEXT COLLATE "C" NOT NULL,
  version        BIGINT NOT NULL,
  room_id        TEXT COLLATE "C" NOT NULL,
  session_id     TEXT COLLATE "C" NOT NULL,
  first_message_index BIGINT NOT NULL,
  forwarded_count BIGINT NOT NULL,
  is_verified    BOOLEAN NOT NULL,
  session_data_json TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);
