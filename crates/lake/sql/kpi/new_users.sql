-- Users first seen per period (their first event ever fell in it). Parameters as in
-- active_users.sql.
SELECT c.{period} AS period, COALESCE(SUM(d.new_users), 0) AS new_users
FROM calendar c
LEFT JOIN {daily} d ON d.business_day = c.business_day
WHERE c.business_day >= {from} AND c.business_day <= {to}
GROUP BY c.{period}
ORDER BY period
