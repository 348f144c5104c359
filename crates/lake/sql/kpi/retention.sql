-- Cohort retention (README, "Cohort retention"). A cohort is the users whose start event
-- fell in one period (day, week or month): with {recurring} = FALSE the period of their
-- first start event ever, with TRUE every period they did it in. Period N of a cohort is
-- the Nth period after its own; a user returned in period N when they did the return event
-- in it. Rows, per cohort (by period number):
--   kind 'size'   offset 0: the cohort's users
--   kind 'exact'  offset N: users who returned in period N exactly
--   kind 'last'   offset N: users whose last return so far is in period N (the caller sums
--                 these from N on: "returned in period N or later")
-- Parameters: {period} (business_day, week or month), {from}, {to} (cohorts whose period
-- starts in this range), {last_day} (no event after it counts), {start} and {return}
-- (conditions on a user_days row), {recurring}, {population} (as in active_users.sql).
WITH numbered AS (
    SELECT u.user_id, u.business_day, c.{period} AS period_start, c.{period}_number AS number,
           ({start}) AS is_start, ({return}) AS is_return
    FROM user_days u
    JOIN calendar c ON c.business_day = u.business_day
    WHERE u.business_day <= {last_day} AND ({population})
),
firsts AS (
    SELECT user_id, MIN(number) AS number FROM numbered WHERE is_start GROUP BY user_id
),
cohorts AS (
    SELECT DISTINCT n.user_id, n.number, n.period_start
    FROM numbered n
    JOIN firsts f ON f.user_id = n.user_id
    WHERE n.is_start AND ({recurring} OR n.number = f.number)
      AND n.period_start >= {from} AND n.period_start <= {to}
),
returns AS (
    SELECT DISTINCT user_id, number FROM numbered WHERE is_return
),
pairs AS (
    SELECT c.number, c.user_id, r.number - c.number AS period_offset
    FROM cohorts c
    JOIN returns r ON r.user_id = c.user_id AND r.number > c.number
),
lasts AS (
    SELECT number, user_id, MAX(period_offset) AS period_offset FROM pairs GROUP BY number, user_id
)
SELECT number, MIN(period_start) AS period_start, 'size' AS kind, 0 AS period_offset, COUNT(*) AS users
FROM cohorts GROUP BY number
UNION ALL
SELECT number, NULL, 'exact', period_offset, COUNT(*) FROM pairs GROUP BY number, period_offset
UNION ALL
SELECT number, NULL, 'last', period_offset, COUNT(*) FROM lasts GROUP BY number, period_offset
