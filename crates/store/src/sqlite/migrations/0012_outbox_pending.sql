-- Monitoring reads the undelivered notifications (how many, the oldest) every half minute:
-- an index of those rows alone keeps that read as small as the backlog, not the history.
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at_ms IS NULL;
