-- Users per quiz risk profile (`none` for users without one) on each period's last night.
-- Parameters as in active_users.sql.
WITH nights_in AS (
    SELECT c.{period} AS period, n.business_day, n.risk_profile
    FROM nights n
    JOIN calendar c ON c.business_day = n.business_day
    WHERE n.business_day >= {from} AND n.business_day <= {to}
),
periods AS (SELECT period, MAX(business_day) AS night FROM nights_in GROUP BY period)
SELECT p.period, p.night, COALESCE(n.risk_profile, 'none') AS risk_profile, COUNT(*) AS users
FROM periods p
JOIN nights_in n ON n.business_day = p.night
GROUP BY p.period, p.night, COALESCE(n.risk_profile, 'none')
ORDER BY p.period, risk_profile
