-- Churn on each period's last day (README, "Churn rate"): of the users active in the N days
-- (d - 2N, d - N], those with no event in (d - N, d]. Parameters as in active_users.sql.
WITH days AS (
    SELECT c.{period} AS period, c.business_day,
           COALESCE(d.churn_base, 0) AS churn_base, COALESCE(d.churned, 0) AS churned
    FROM calendar c
    LEFT JOIN {daily} d ON d.business_day = c.business_day
    WHERE c.business_day >= {from} AND c.business_day <= {to}
),
periods AS (SELECT period, MAX(business_day) AS last_day FROM days GROUP BY period)
SELECT p.period, d.churn_base, d.churned,
       CASE WHEN d.churn_base > 0 THEN CAST(d.churned AS DOUBLE) / d.churn_base END AS churn_rate
FROM periods p
JOIN days d ON d.business_day = p.last_day
ORDER BY p.period
