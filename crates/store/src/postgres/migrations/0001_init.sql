-- Users seen by playpulse. No PII: user_id is the operator's opaque id.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    created_at_ms BIGINT NOT NULL,
    age_verified  BOOLEAN NOT NULL DEFAULT FALSE,
    tz            TEXT,
    consents      JSONB NOT NULL DEFAULT '{}'
);

-- Every accepted event. seq increases with every insert and drives incremental export;
-- event_id is the idempotency key. Deliberately no per-user index: the online path never
-- reads history (per-user reads go to ledger_entries, user_state and derived tables), and
-- each random-key index costs a page write per event.
CREATE TABLE events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       UUID NOT NULL UNIQUE,
    user_id        TEXT NOT NULL,
    type           TEXT NOT NULL,
    ts_ms          BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    props          JSONB NOT NULL
);

-- The append-only token ledger: the single source of truth for balances. An entry is only
-- ever written in the transaction that stores its event, so events.event_id's uniqueness
-- already makes entries unique per event without a second random-key index.
CREATE TABLE ledger_entries (
    entry_id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       UUID NOT NULL,
    user_id        TEXT NOT NULL,
    delta          BIGINT NOT NULL CHECK (delta <> 0),
    reason         TEXT NOT NULL,
    balance_after  BIGINT NOT NULL CHECK (balance_after >= 0),
    ts_ms          BIGINT NOT NULL,
    recorded_at_ms BIGINT NOT NULL
);
CREATE INDEX ledger_by_user ON ledger_entries (user_id, entry_id);

-- balances and user_state are updated in place all day: free room in each page lets
-- PostgreSQL keep the new row version on the same page without touching the index (HOT).
CREATE TABLE balances (
    user_id       TEXT PRIMARY KEY,
    balance       BIGINT NOT NULL CHECK (balance >= 0),
    updated_at_ms BIGINT NOT NULL
) WITH (fillfactor = 80);

-- Hot metrics per user; version counts the user's applied events and orders cache writes.
CREATE TABLE user_state (
    user_id         TEXT PRIMARY KEY,
    version         BIGINT NOT NULL,
    first_seen_ms   BIGINT NOT NULL,
    last_action_ms  BIGINT NOT NULL,
    last_play_day   DATE,
    play_mask       BIGINT NOT NULL DEFAULT 0,
    streak_run_days INTEGER NOT NULL DEFAULT 0
) WITH (fillfactor = 80);

-- API keys: only a SHA-256 hash of the secret is kept.
CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
