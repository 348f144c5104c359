-- Each user's segment as of the latest nightly batch, with the figures that decided it.
CREATE TABLE user_segments (
    user_id        TEXT PRIMARY KEY,
    segment        TEXT NOT NULL,
    rule_index     INTEGER,
    recency_days   BIGINT NOT NULL,
    frequency      BIGINT NOT NULL,
    monetary       BIGINT NOT NULL,
    partner_visits BIGINT NOT NULL,
    partner_tokens BIGINT NOT NULL,
    balance        BIGINT NOT NULL,
    as_of          DATE NOT NULL,
    since          DATE NOT NULL
);

-- Every change of a user's segment, by batch day (previous is NULL for a first segment).
CREATE TABLE segment_history (
    as_of    DATE NOT NULL,
    user_id  TEXT NOT NULL,
    segment  TEXT NOT NULL,
    previous TEXT,
    PRIMARY KEY (as_of, user_id)
);
