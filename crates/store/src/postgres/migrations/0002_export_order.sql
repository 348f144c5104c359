-- The id of the transaction that stored each event. Identity values (seq) are handed out
-- before commit, so seq order is not commit order; (txid, seq) below the oldest running
-- transaction is final, which lets the lake export read each event exactly once.
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_export_order ON events (txid, seq);
