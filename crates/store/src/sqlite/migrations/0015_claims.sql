-- Every claim of an outbox row gets its own number, which never goes back: attempts does
-- (a deferral takes its attempt back, an admin's retry starts again at 0), so an attempt
-- number alone cannot tell a claim whose lease lapsed from the one after it.
ALTER TABLE outbox ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
