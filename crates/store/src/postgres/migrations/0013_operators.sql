-- The operator team's dashboard accounts. Passwords are kept only as Argon2id hashes.
-- failed_logins counts wrong passwords since the last good one; past the configured number
-- the account is locked until locked_until_ms.
CREATE TABLE operators (
    name            TEXT PRIMARY KEY,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until_ms BIGINT
);
