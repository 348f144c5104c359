-- Each user's history of purchase days up to {as_of} (days since 1970-01-01), for BG/NBD and
-- Gamma-Gamma, with their amount over the last 30 days (the naive forecast repeats it). A
-- purchase day is a day with {amount} > 0: `spent` for token spend, `purchase_cash` for cash.
-- Only days up to {as_of} are read. Days are the time unit: x repeat purchase days, the last
-- t_x after the first, t observed since the first; repeat_mean is the mean amount of a
-- repeat purchase day (NULL without one).
WITH days AS (
    SELECT user_id, business_day, {amount} AS amount
    FROM user_days
    WHERE business_day <= {as_of} AND {amount} > 0
),
firsts AS (
    SELECT user_id, MIN(business_day) AS first_day FROM days GROUP BY user_id
)
SELECT d.user_id,
       CAST(COUNT(*) - 1 AS DOUBLE) AS x,
       CAST(MAX(d.business_day) - f.first_day AS DOUBLE) AS t_x,
       CAST({as_of} - f.first_day AS DOUBLE) AS t,
       CAST(SUM(d.amount) FILTER (WHERE d.business_day > f.first_day) AS DOUBLE)
           / CAST(NULLIF(COUNT(*) - 1, 0) AS DOUBLE) AS repeat_mean,
       CAST(COALESCE(SUM(d.amount) FILTER (WHERE d.business_day > {as_of} - 30), 0) AS DOUBLE) AS last_30d
FROM days d
JOIN firsts f ON f.user_id = d.user_id
GROUP BY d.user_id, f.first_day
ORDER BY d.user_id
