-- Partner A per period: visits, dwell, tokens earned there, and the users reached
-- (distinct users with a visit or a partner earning in the period, from period_users.sql).
-- Parameters as in active_users.sql.
WITH sums AS (
    SELECT c.{period} AS period,
           COALESCE(SUM(d.partner_visits), 0) AS visits,
           COALESCE(SUM(d.partner_dwell_s), 0) AS dwell_s,
           COALESCE(SUM(d.earned_partner), 0) AS tokens
    FROM calendar c
    LEFT JOIN {daily} d ON d.business_day = c.business_day
    WHERE c.business_day >= {from} AND c.business_day <= {to}
    GROUP BY c.{period}
)
SELECT s.period, s.visits, s.dwell_s, s.tokens, COALESCE(u.partner_users, 0) AS users
FROM sums s
LEFT JOIN {period_users} u ON u.period = s.period
ORDER BY s.period
