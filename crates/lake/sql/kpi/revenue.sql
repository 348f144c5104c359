-- Purchases per period: revenue (cash, in the currency's minor unit), payers (distinct
-- users with a purchase in the period), payer share of the period's active users, ARPDAU
-- (revenue per daily active user, averaged over the period's days) and ARPPU (revenue per
-- payer). Parameters as in active_users.sql.
--
-- Distinct users come from period_users.sql.
WITH sums AS (
    SELECT c.{period} AS period, COALESCE(SUM(d.revenue), 0) AS revenue,
           COALESCE(SUM(d.purchases), 0) AS purchases,
           COALESCE(SUM(d.purchased_tokens), 0) AS purchased_tokens,
           COALESCE(SUM(d.dau), 0) AS active_user_days
    FROM calendar c
    LEFT JOIN {daily} d ON d.business_day = c.business_day
    WHERE c.business_day >= {from} AND c.business_day <= {to}
    GROUP BY c.{period}
)
SELECT s.period, s.revenue, s.purchases, s.purchased_tokens,
       COALESCE(u.payers, 0) AS payers,
       COALESCE(u.active_users, 0) AS active_users,
       CASE WHEN u.active_users > 0 THEN CAST(u.payers AS DOUBLE) / u.active_users END AS payer_share,
       CASE WHEN s.active_user_days > 0 THEN CAST(s.revenue AS DOUBLE) / s.active_user_days END AS arpdau,
       CASE WHEN u.payers > 0 THEN CAST(s.revenue AS DOUBLE) / u.payers END AS arppu
FROM sums s
LEFT JOIN {period_users} u ON u.period = s.period
ORDER BY s.period
