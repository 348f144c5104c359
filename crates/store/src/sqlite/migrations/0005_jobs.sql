-- Runs of scheduled jobs. (job, as_of) is unique: claiming a run is one atomic upsert, so of
-- several instances exactly one runs a given night.
CREATE TABLE job_runs (
    id             INTEGER PRIMARY KEY,
    job            TEXT NOT NULL,
    as_of          TEXT NOT NULL,
    status         TEXT NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    rows           INTEGER,
    detail         TEXT,
    error          TEXT,
    UNIQUE (job, as_of)
);
