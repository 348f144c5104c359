-- Partner A per period: visits, dwell, tokens earned there, and the users reached
-- (distinct users with a visit or a partner earning in the period). Parameters as in
-- active_users.sql.
SELECT c.{period} AS period,
       SUM(u.count_partner_visit) AS visits,
       SUM(u.partner_dwell_s) AS dwell_s,
       SUM(u.earned_partner) AS tokens,
       COUNT(DISTINCT u.user_id) FILTER (WHERE u.count_partner_visit > 0 OR u.earned_partner > 0) AS users
FROM user_days u
JOIN calendar c ON c.business_day = u.business_day
WHERE u.business_day >= {from} AND u.business_day <= {to} AND ({population})
GROUP BY c.{period}
ORDER BY period
