-- Cohort retention with the defaults (first-time cohorts, any event for start and return,
-- every user) from the rollups, in the rows retention.sql gives: cohort sizes and each
-- user's last return from one day of user_state, returns in exactly period N summed from
-- retention_days. Parameters: {period}, {from}, {to}, {last_day} as in retention.sql;
-- {state_day}, the last day user_state holds up to {last_day} (no events came after it).
WITH users AS (
    SELECT f.{period}_number AS number, f.{period} AS period_start,
           l.{period}_number - f.{period}_number AS last_offset
    FROM user_state s
    JOIN calendar f ON f.business_day = s.first_day
    JOIN calendar l ON l.business_day = s.last_day
    WHERE s.business_day = {state_day} AND f.{period} >= {from} AND f.{period} <= {to}
)
SELECT number, MIN(period_start) AS period_start, 'size' AS kind, 0 AS period_offset, COUNT(*) AS users
FROM users GROUP BY number
UNION ALL
SELECT cohort, NULL, 'exact', returned - cohort, SUM(users)
FROM retention_days
WHERE period = '{period}' AND cohort_start >= {from} AND cohort_start <= {to} AND business_day <= {last_day}
GROUP BY cohort, returned - cohort
UNION ALL
SELECT number, NULL, 'last', last_offset, COUNT(*) FROM users WHERE last_offset > 0 GROUP BY number, last_offset
