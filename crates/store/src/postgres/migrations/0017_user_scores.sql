-- Each user's latest score from each predictive model (the nightly batch's): the version of
-- the model, the night, the score (a churn probability, say) and, as a JSON array, the
-- features that raised it most.
CREATE TABLE user_scores (
    user_id TEXT NOT NULL,
    model   TEXT NOT NULL,
    version BIGINT NOT NULL,
    as_of   DATE NOT NULL,
    score   DOUBLE PRECISION NOT NULL,
    reasons TEXT NOT NULL,
    PRIMARY KEY (user_id, model)
);

-- A night drops its model's rows older than itself: users it no longer scores.
CREATE INDEX user_scores_by_model ON user_scores (model, as_of);
