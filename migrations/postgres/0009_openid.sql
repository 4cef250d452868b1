-- OpenID tokens (matrix-spec: openid.yaml#requestOpenIdToken; server-server openid.yaml#exchangeOpenIdToken):
-- handed to a client once, stored only as SHA-256 hashes, valid until expires_ts.
CREATE TABLE openid_tokens (
  token_hash     TEXT COLLATE "C" PRIMARY KEY,
  user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  expires_ts     BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expires_ts_idx ON openid_tokens (expires_ts);
