-- Delivery of the outbox. A row is queued (due at next_attempt_at_ms), failed (an attempt
-- failed, retried at next_attempt_at_ms), sent (delivered_at_ms, channel), dead (gave up;
-- last_error) or suppressed (a policy said no; reason). A dispatcher claims a due row by
-- raising attempts and leasing it until lease_until_ms: a dispatcher that dies mid-send
-- loses the lease, and the row is claimed again (the receiver dedupes by dedupe_key).
ALTER TABLE outbox ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER;
ALTER TABLE outbox ADD COLUMN channel TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN reason TEXT;
UPDATE outbox SET next_attempt_at_ms = created_at_ms;
DROP INDEX outbox_undelivered;
-- The dispatcher's and monitoring's reads: the rows still to deliver, by when they are due.
CREATE INDEX outbox_due ON outbox (next_attempt_at_ms, id) WHERE state IN ('queued', 'failed');

-- Users' devices for push. A token belongs to one device of one app: registering it again
-- (maybe by another user, as a phone changes hands) moves it. A provider's "unregistered"
-- answer disables it.
CREATE TABLE devices (
    platform         TEXT NOT NULL,
    token            TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    registered_at_ms INTEGER NOT NULL,
    disabled_at_ms   INTEGER,
    disabled_reason  TEXT,
    PRIMARY KEY (platform, token)
);
CREATE INDEX devices_by_user ON devices (user_id);

-- What a user agreed to and asked for: marketing consent and the separate night-time one,
-- each with when it was given (NULL: not given), and quiet hours in minutes after midnight
-- of the user's own zone (NULL: none).
ALTER TABLE users ADD COLUMN marketing_consent_at_ms INTEGER;
ALTER TABLE users ADD COLUMN night_consent_at_ms INTEGER;
ALTER TABLE users ADD COLUMN quiet_start_min INTEGER;
ALTER TABLE users ADD COLUMN quiet_end_min INTEGER;
