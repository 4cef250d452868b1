-- OpenID tokens (matrix-spec: openid.yaml#requestOpenIdToken; server-server openid.yaml#exchangeOpenIdToken):
-- handed to a client once, stored only as SHA-256 hashes, valid until expires_ts.
CREATE TABLE openid_tokens (
  token_hash     TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  expires_ts     INTEGER NOT NULL
) STRICT;
CREATE INDEX openid_tokens_expires_ts_idx ON openid_tokens (expires_ts);
