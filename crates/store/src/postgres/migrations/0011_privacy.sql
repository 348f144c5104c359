-- The per-user access path of export and erasure: a user's events in stored order. It costs
-- ingest one more B-tree insert per event (measured in the README's "Export and erasure").
CREATE INDEX events_by_user ON events (user_id, seq);
-- A user's notifications.
CREATE INDEX outbox_by_user ON outbox (user_id, id);

-- Keys the store makes for itself: the one of erased users' pseudonyms.
CREATE TABLE store_secrets (
    name   TEXT PRIMARY KEY,
    secret TEXT NOT NULL
);

-- Erased users, by pseudonym: who asked, when, the receipt. pending_user_id holds the
-- erased id only until the lake's copy is rewritten, then it is cleared.
CREATE TABLE erasures (
    pseudonym         TEXT PRIMARY KEY,
    receipt_id        TEXT NOT NULL UNIQUE,
    requested_by      TEXT NOT NULL,
    erased_at_ms      BIGINT NOT NULL,
    lake_erased_at_ms BIGINT,
    pending_user_id   TEXT
);
