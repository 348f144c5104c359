-- Each notification trigger against its holdout (README, "Notifications", the effect
-- report): per trigger and group, the users exposed and their sums over the window that
-- starts on the business day of their first notification: tokens spent on that day and the
-- {window} - 1 after it, and whether they came back (any event) on one of the {window} days
-- after it. {exposures}: kind, user_id, day, held_out, one row per user and trigger.
WITH outcomes AS (
    SELECT e.kind, e.held_out, e.user_id,
           COALESCE(SUM(u.spent) FILTER (WHERE u.business_day < e.day + {window}), 0) AS spent,
           COUNT(u.business_day) FILTER (WHERE u.business_day > e.day) AS days_back
    FROM {exposures} e
    LEFT JOIN user_days u
      ON u.user_id = e.user_id AND u.business_day >= e.day AND u.business_day <= e.day + {window}
    GROUP BY e.kind, e.held_out, e.user_id
)
SELECT kind, held_out, COUNT(*) AS users,
       CAST(SUM(spent) AS DOUBLE) AS spent,
       SUM(CAST(spent AS DOUBLE) * CAST(spent AS DOUBLE)) AS spent_squares,
       COUNT(*) FILTER (WHERE days_back > 0) AS returned
FROM outcomes
GROUP BY kind, held_out
ORDER BY kind, held_out
