-- The operator team's dashboard accounts. Passwords are kept only as Argon2id hashes.
-- failed_logins counts wrong passwords since the last good one; past the configured number
-- the account is locked until locked_until_ms.
CREATE TABLE operators (
    name            TEXT PRIMARY KEY,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER
);

-- Dashboard sign-ins. The cookie holds a random token; only its SHA-256 is kept here. csrf is
-- the token every state-changing form of the session must carry.
CREATE TABLE operator_sessions (
    token_hash    TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
