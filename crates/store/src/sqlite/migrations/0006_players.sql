-- Player profile, protection, quiz and proposals.
ALTER TABLE users ADD COLUMN lang TEXT;
-- The user's own limits (JSON), enforced by the ledger.
ALTER TABLE users ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
-- The latest quiz result; the history is quiz_responses.
ALTER TABLE users ADD COLUMN risk_profile TEXT;
ALTER TABLE users ADD COLUMN risk_score REAL;
-- Counters of limits and harm markers (JSON), written with the rest of the state.
ALTER TABLE user_state ADD COLUMN tally TEXT NOT NULL DEFAULT '{}';

CREATE TABLE quiz_responses (
    response_id     INTEGER PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (user_id),
    quiz_version    INTEGER NOT NULL,
    answers         TEXT NOT NULL,
    score           REAL NOT NULL,
    risk_profile    TEXT NOT NULL,
    submitted_at_ms INTEGER NOT NULL
);
CREATE INDEX quiz_responses_by_user ON quiz_responses (user_id, response_id);

-- Activity per hour of the business day over the batch's window (24 counts, JSON).
CREATE TABLE user_hours (
    user_id TEXT PRIMARY KEY,
    hours   TEXT NOT NULL,
    as_of   TEXT NOT NULL
) WITHOUT ROWID;

-- The same, summed over each segment's users: the prior of users with little data.
CREATE TABLE segment_hours (
    segment TEXT PRIMARY KEY,
    hours   TEXT NOT NULL,
    as_of   TEXT NOT NULL
) WITHOUT ROWID;

-- What the learning loop knows per segment, proposal type and variant, from the lake.
CREATE TABLE policy_arms (
    segment     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    variant     TEXT NOT NULL,
    impressions INTEGER NOT NULL CHECK (impressions >= 0),
    conversions INTEGER NOT NULL CHECK (conversions >= 0),
    as_of       TEXT NOT NULL,
    PRIMARY KEY (segment, kind, variant)
) WITHOUT ROWID;
