-- Churn on each period's last day (README, "Churn rate"): of the users active in the N days
-- (d - 2N, d - N], those with no event in (d - N, d]. Parameters as in active_users.sql.
WITH days AS (
    SELECT c.{period} AS period, d.business_day, d.churn_base, d.churned
    FROM {daily} d
    JOIN calendar c ON c.business_day = d.business_day
    WHERE d.business_day >= {from} AND d.business_day <= {to}
),
periods AS (SELECT period, MAX(business_day) AS last_day FROM days GROUP BY period)
SELECT p.period, d.churn_base, d.churned,
       CASE WHEN d.churn_base > 0 THEN CAST(d.churned AS DOUBLE) / d.churn_base END AS churn_rate
FROM periods p
JOIN days d ON d.business_day = p.last_day
ORDER BY p.period
