-- Partner A per period: visits, dwell, tokens earned there, and the users reached
-- (distinct users with a visit or a partner earning in the period). Parameters as in
-- active_users.sql.
SELECT c.{period} AS period,
       COALESCE(SUM(u.count_partner_visit), 0) AS visits,
       COALESCE(SUM(u.partner_dwell_s), 0) AS dwell_s,
       COALESCE(SUM(u.earned_partner), 0) AS tokens,
       COUNT(DISTINCT u.user_id) FILTER (WHERE u.count_partner_visit > 0 OR u.earned_partner > 0) AS users
FROM calendar c
LEFT JOIN user_days u ON u.business_day = c.business_day AND ({population})
WHERE c.business_day >= {from} AND c.business_day <= {to}
GROUP BY c.{period}
ORDER BY period
