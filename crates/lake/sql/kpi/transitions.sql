-- Moves between segments from each night in the range to the night before it that the
-- batch ran: (from, to, users); `(new)` for users the earlier night did not have.
-- Parameters as in active_users.sql.
WITH ran AS (
    SELECT DISTINCT business_day FROM nights WHERE business_day <= {to}
),
pairs AS (
    SELECT r.business_day AS night, MAX(p.business_day) AS previous
    FROM ran r
    LEFT JOIN ran p ON p.business_day < r.business_day
    WHERE r.business_day >= {from}
    GROUP BY r.business_day
)
SELECT p.night, COALESCE(b.segment, '(new)') AS from_segment, a.segment AS to_segment, COUNT(*) AS users
FROM pairs p
JOIN nights a ON a.business_day = p.night
LEFT JOIN nights b ON b.business_day = p.previous AND b.user_id = a.user_id
GROUP BY p.night, COALESCE(b.segment, '(new)'), a.segment
ORDER BY p.night, from_segment, to_segment
