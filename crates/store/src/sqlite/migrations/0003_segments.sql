-- Each user's segment as of the latest nightly batch, with the figures that decided it.
CREATE TABLE user_segments (
    user_id        TEXT PRIMARY KEY,
    segment        TEXT NOT NULL,
    rule_index     INTEGER,
    recency_days   INTEGER NOT NULL,
    frequency      INTEGER NOT NULL,
    monetary       INTEGER NOT NULL,
    partner_visits INTEGER NOT NULL,
    partner_tokens INTEGER NOT NULL,
    balance        INTEGER NOT NULL,
    as_of          TEXT NOT NULL,
    since          TEXT NOT NULL
) WITHOUT ROWID;

-- Every change of a user's segment, by batch day (previous is NULL for a first segment).
CREATE TABLE segment_history (
    as_of    TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    segment  TEXT NOT NULL,
    previous TEXT,
    PRIMARY KEY (as_of, user_id)
) WITHOUT ROWID;
