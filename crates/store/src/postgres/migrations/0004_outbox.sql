-- Notifications owed to users, written in the transaction that causes them; a dispatcher
-- delivers them later. dedupe_key makes every enqueue idempotent.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    payload         JSONB NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    delivered_at_ms BIGINT
);
