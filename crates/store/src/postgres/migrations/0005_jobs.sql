-- Runs of scheduled jobs. (job, as_of) is unique: claiming a run is one atomic upsert, so of
-- several instances exactly one runs a given night.
CREATE TABLE job_runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job            TEXT NOT NULL,
    as_of          DATE NOT NULL,
    status         TEXT NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT,
    rows           BIGINT,
    detail         JSONB,
    error          TEXT,
    UNIQUE (job, as_of)
);
