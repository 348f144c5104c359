-- Notifications owed to users, written in the transaction that causes them; a dispatcher
-- delivers them later. dedupe_key makes every enqueue idempotent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    delivered_at_ms INTEGER
);
