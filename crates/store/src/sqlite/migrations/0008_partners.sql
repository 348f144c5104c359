-- Partners that call playpulse directly (partner A), their signing secrets, and what they
-- recorded: the seed's site_visits and site_rewards.
CREATE TABLE partners (
    partner_id    TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    active        INTEGER NOT NULL,
    -- Reward caps (JSON): for the partner as a whole, and per user.
    caps          TEXT NOT NULL DEFAULT '{}',
    created_at_ms INTEGER NOT NULL
);

-- Shared HMAC secrets. The current one has no expiry; a rotation gives the previous one an
-- expiry, so that both sign during the overlap.
CREATE TABLE partner_secrets (
    partner_id    TEXT NOT NULL REFERENCES partners (partner_id),
    secret_id     INTEGER NOT NULL,
    secret        TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    PRIMARY KEY (partner_id, secret_id)
);

-- Requests seen, by their signed timestamp and signature: a byte-identical request is a
-- replay. Only a timestamp within five minutes of the server's clock verifies, so rows are
-- pruned by it, along the key.
CREATE TABLE partner_requests (
    partner_id  TEXT NOT NULL,
    signed_at_s INTEGER NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (partner_id, signed_at_s, signature)
) WITHOUT ROWID;

-- A row is written only with its event, whose id (derived from the partner, the kind and
-- the transaction id) is unique in `events`.
CREATE TABLE site_visits (
    event_id       BLOB NOT NULL,
    partner_id     TEXT NOT NULL,
    txn_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    ts_ms          INTEGER NOT NULL,
    dwell_s        INTEGER NOT NULL,
    actions        INTEGER NOT NULL,
    page           TEXT,
    campaign       TEXT,
    recorded_at_ms INTEGER NOT NULL,
    -- Clustered as the summary reads them: one table, no second index to write.
    PRIMARY KEY (partner_id, ts_ms, event_id)
) WITHOUT ROWID;

-- day: the business day of arrival (the caps count by it; a partner's totals are seeded from it).
CREATE TABLE site_rewards (
    event_id       BLOB NOT NULL,
    partner_id     TEXT NOT NULL,
    txn_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    amount         INTEGER NOT NULL CHECK (amount > 0),
    campaign       TEXT,
    ts_ms          INTEGER NOT NULL,
    day            TEXT NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    PRIMARY KEY (partner_id, ts_ms, event_id)
) WITHOUT ROWID;

-- Tokens a capped partner rewarded per business day ('2026-05-01') and month ('2026-05'):
-- one row to lock instead of a month of rewards to sum. Kept only while the partner has a
-- partner-wide cap, seeded from site_rewards when missing.
CREATE TABLE partner_totals (
    partner_id TEXT NOT NULL,
    period     TEXT NOT NULL,
    tokens     INTEGER NOT NULL,
    PRIMARY KEY (partner_id, period)
);
