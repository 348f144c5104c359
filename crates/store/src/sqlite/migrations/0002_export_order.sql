-- The export order. PostgreSQL adds the committing transaction's id to `events` here; SQLite
-- needs nothing: its one writer commits in `seq` order, so `seq` is already the export order.
SELECT 1;
