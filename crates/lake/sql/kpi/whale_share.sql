-- The top segment's share of the segmented users and of the tokens they spent in the RFM
-- window, on each period's last night. Parameters as in active_users.sql, and {top}, the
-- top segment's name as a quoted literal.
WITH nights_in AS (
    SELECT c.{period} AS period, n.*
    FROM nights n
    JOIN calendar c ON c.business_day = n.business_day
    WHERE n.business_day >= {from} AND n.business_day <= {to}
),
periods AS (SELECT period, MAX(business_day) AS night FROM nights_in GROUP BY period)
SELECT p.period, p.night,
       COUNT(*) FILTER (WHERE n.segment = {top}) AS whales,
       COUNT(*) AS users,
       COALESCE(SUM(n.tokens_spent) FILTER (WHERE n.segment = {top}), 0) AS whale_spend,
       SUM(n.tokens_spent) AS spend,
       CAST(COUNT(*) FILTER (WHERE n.segment = {top}) AS DOUBLE) / COUNT(*) AS user_share,
       CASE WHEN SUM(n.tokens_spent) > 0
            THEN CAST(COALESCE(SUM(n.tokens_spent) FILTER (WHERE n.segment = {top}), 0) AS DOUBLE)
                 / SUM(n.tokens_spent) END AS spend_share
FROM periods p
JOIN nights_in n ON n.business_day = p.night
GROUP BY p.period, p.night
ORDER BY p.period
