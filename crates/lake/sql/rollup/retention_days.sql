-- The counts of the default retention grid (first-time cohorts, any event for start and
-- return, every user), one business day at a time, from user_state: the users active on the
-- day after their first, by the period of their first day, in each granularity. A user is
-- counted in a period once, on their first active day of it (the active day before it,
-- `previous_day`, falls before the period began), so summing a cohort's rows over days
-- gives the users who returned in each period exactly; the grid then reads a few thousand
-- rows instead of every user-day. Parameters: {from}, {to} (business days, inclusive).
WITH active AS (
    SELECT s.business_day, s.previous_day,
           f.business_day AS first_day, f.week AS first_week, f.month AS first_month,
           f.week_number AS first_week_number, f.month_number AS first_month_number,
           d.week, d.month, d.week_number, d.month_number
    FROM user_state s
    JOIN calendar d ON d.business_day = s.business_day
    JOIN calendar f ON f.business_day = s.first_day
    WHERE s.business_day >= {from} AND s.business_day <= {to}
      AND s.last_day = s.business_day AND s.first_day < s.business_day
)
SELECT business_day, 'business_day' AS period, first_day AS cohort_start, first_day AS cohort,
       business_day AS returned, COUNT(*) AS users
FROM active
GROUP BY business_day, first_day
UNION ALL
SELECT business_day, 'week', first_week, first_week_number, week_number, COUNT(*)
FROM active
WHERE week_number > first_week_number AND previous_day < week
GROUP BY business_day, first_week, first_week_number, week_number
UNION ALL
SELECT business_day, 'month', first_month, first_month_number, month_number, COUNT(*)
FROM active
WHERE month_number > first_month_number AND previous_day < month
GROUP BY business_day, first_month, first_month_number, month_number
