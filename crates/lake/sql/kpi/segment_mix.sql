-- Users per segment on each night in the range (the nightly batch's assignments), the
-- period's last night standing for the period. Parameters as in active_users.sql.
WITH nights_in AS (
    SELECT c.{period} AS period, n.business_day, n.segment, n.users
    FROM night_segments n
    JOIN calendar c ON c.business_day = n.business_day
    WHERE n.business_day >= {from} AND n.business_day <= {to}
),
periods AS (SELECT period, MAX(business_day) AS night FROM nights_in GROUP BY period)
SELECT p.period, p.night, n.segment, n.users
FROM periods p
JOIN nights_in n ON n.business_day = p.night
ORDER BY p.period, n.segment
