-- The top segment's share of the segmented users and of the tokens they spent in the RFM
-- window, on each period's last night. Parameters as in active_users.sql, and {top}, the
-- top segment's name as a quoted literal.
WITH nights_in AS (
    SELECT c.{period} AS period, n.*
    FROM night_segments n
    JOIN calendar c ON c.business_day = n.business_day
    WHERE n.business_day >= {from} AND n.business_day <= {to}
),
periods AS (SELECT period, MAX(business_day) AS night FROM nights_in GROUP BY period),
totals AS (
    SELECT p.period, p.night,
           COALESCE(SUM(n.users) FILTER (WHERE n.segment = {top}), 0) AS whales,
           SUM(n.users) AS users,
           COALESCE(SUM(n.tokens_spent) FILTER (WHERE n.segment = {top}), 0) AS whale_spend,
           SUM(n.tokens_spent) AS spend
    FROM periods p
    JOIN nights_in n ON n.business_day = p.night
    GROUP BY p.period, p.night
)
SELECT period, night, whales, users, whale_spend, spend,
       CAST(whales AS DOUBLE) / users AS user_share,
       CASE WHEN spend > 0 THEN CAST(whale_spend AS DOUBLE) / spend END AS spend_share
FROM totals
ORDER BY period
