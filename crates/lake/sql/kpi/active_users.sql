-- Active users per period: DAU averaged over the period's days, WAU and MAU on its last
-- day, stickiness = average DAU / MAU. Parameters of every KPI file: {from}, {to} (business
-- days, inclusive), {period} (the calendar column a day is grouped by: business_day, week
-- or month), {daily} (the daily table, or it computed for a population) and {population}
-- (TRUE, or a condition on user_id).
-- Days before the first event have no daily row: every figure of theirs is 0.
WITH days AS (
    SELECT c.{period} AS period, c.business_day,
           COALESCE(d.dau, 0) AS dau, COALESCE(d.wau, 0) AS wau, COALESCE(d.mau, 0) AS mau
    FROM calendar c
    LEFT JOIN {daily} d ON d.business_day = c.business_day
    WHERE c.business_day >= {from} AND c.business_day <= {to}
),
periods AS (
    SELECT period, AVG(dau) AS dau, MAX(business_day) AS last_day FROM days GROUP BY period
)
SELECT p.period, p.dau, d.wau, d.mau,
       CASE WHEN d.mau > 0 THEN p.dau / d.mau END AS stickiness
FROM periods p
JOIN days d ON d.business_day = p.last_day
ORDER BY p.period
