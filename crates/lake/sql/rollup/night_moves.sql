-- Moves between segments from each night to the night before it that the batch ran:
-- (from_segment, to_segment, users); `(new)` for users the earlier night did not have.
-- Parameters: {from}, {to}, the nights (days since 1970-01-01, inclusive).
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
SELECT CAST(p.night AS INT) AS business_day, COALESCE(b.segment, '(new)') AS from_segment,
       a.segment AS to_segment, COUNT(*) AS users
FROM pairs p
JOIN nights a ON a.business_day = p.night
LEFT JOIN nights b ON b.business_day = p.previous AND b.user_id = a.user_id
GROUP BY p.night, COALESCE(b.segment, '(new)'), a.segment
ORDER BY business_day, from_segment, to_segment
