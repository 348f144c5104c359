-- Moves between segments from each night in the range to the night before it that the
-- batch ran: (from, to, users); `(new)` for users the earlier night did not have.
-- Parameters as in active_users.sql.
SELECT business_day AS night, from_segment, to_segment, users
FROM night_moves
WHERE business_day >= {from} AND business_day <= {to}
ORDER BY night, from_segment, to_segment
