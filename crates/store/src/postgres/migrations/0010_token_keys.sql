-- Ed25519 keys that sign player-scoped tokens. The newest key not retired signs; every key
-- not yet retired verifies, so a rotation keeps the tokens issued before it valid until the
-- previous key retires (after the longest token lifetime).
CREATE TABLE token_keys (
    key_id        TEXT PRIMARY KEY,
    secret        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    retired_at_ms BIGINT
);
