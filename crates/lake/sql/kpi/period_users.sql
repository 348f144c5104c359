-- Distinct users per period, for the KPIs that count them (revenue.sql, partner.sql): active,
-- paying, and reached by partner A (a visit or a partner earning). Parameters as in
-- active_users.sql.
--
-- They come from the daily table's to-date counts on each period's last day in range; a
-- first period that began before {from} counts only the users active from {from} on, from
-- the user states of its last day; {first_period_partial} (TRUE or FALSE) says whether it
-- did, so that a range starting on a period's first day reads no user states.
WITH latest AS (
    SELECT c.{period} AS period, MAX(d.business_day) AS day
    FROM {daily} d
    JOIN calendar c ON c.business_day = d.business_day
    WHERE d.business_day >= {from} AND d.business_day <= {to}
    GROUP BY c.{period}
)
SELECT l.period,
       CASE '{period}' WHEN 'week' THEN d.active_week WHEN 'month' THEN d.active_month ELSE d.dau END
           AS active_users,
       CASE '{period}' WHEN 'week' THEN d.payers_week WHEN 'month' THEN d.payers_month ELSE d.payers END
           AS payers,
       CASE '{period}' WHEN 'week' THEN d.partner_users_week WHEN 'month' THEN d.partner_users_month
            ELSE d.partner_users END AS partner_users
FROM latest l
JOIN {daily} d ON d.business_day = l.day
WHERE l.period >= {from}
UNION ALL
SELECT l.period,
       COUNT(*) FILTER (WHERE s.last_day >= {from}),
       COUNT(*) FILTER (WHERE s.last_paid_day >= {from}),
       COUNT(*) FILTER (WHERE s.last_partner_day >= {from})
FROM latest l
JOIN user_state s ON s.business_day = l.day
WHERE {first_period_partial} AND l.period < {from} AND ({population})
  AND s.business_day >= {from} AND s.business_day <= {to}
GROUP BY l.period
