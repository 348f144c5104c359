-- Users first seen per period (their first event ever fell in it). Parameters as in
-- active_users.sql.
SELECT c.{period} AS period, SUM(d.new_users) AS new_users
FROM {daily} d
JOIN calendar c ON c.business_day = d.business_day
WHERE d.business_day >= {from} AND d.business_day <= {to}
GROUP BY c.{period}
ORDER BY period
