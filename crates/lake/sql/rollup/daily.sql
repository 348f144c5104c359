-- The KPI base: one row per business day from {from} to {to} (inclusive), days without
-- events included. Active users (DAU, WAU, MAU), new users, churn, payers and the day's sums.
-- Parameters (integers unless said): {from}, {to}, days since 1970-01-01; {churn_days}, N;
-- {lookback} = max(30, 2N), how long before {from} activity still counts; {population},
-- TRUE or a condition on user_id that restricts every figure to some users.
--
-- Active users come from spans, not from counting distinct users per window: a user active
-- on day a and next on day n counts as monthly active on days a … min(a + 29, n - 1). One
-- user's spans never overlap, so a day's count is the running sum of +1 where spans start
-- and -1 where they end: one pass for any range of days.
-- Churn on day d: of the users active in (d - 2N, d - N] (churn_base), those with no event
-- in (d - N, d] (churned); both are spans too (active on a, next on n: in the base on days
-- a + N … min(a + 2N, n + N) - 1, churned on days a + N … min(a + 2N, n) - 1 when n > a + N).
WITH spans AS (
    SELECT business_day AS day,
           LEAD(business_day) OVER (PARTITION BY user_id ORDER BY business_day) AS next_day
    FROM user_days
    WHERE business_day >= {from} - {lookback} AND business_day <= {to} AND ({population})
),
changes AS (
    SELECT day, 1 AS wau, 1 AS mau, 0 AS churn_base, 0 AS churned FROM spans
    UNION ALL
    SELECT LEAST(day + 7, COALESCE(next_day, day + 7)), -1, 0, 0, 0 FROM spans
    UNION ALL
    SELECT LEAST(day + 30, COALESCE(next_day, day + 30)), 0, -1, 0, 0 FROM spans
    UNION ALL
    SELECT day + {churn_days}, 0, 0, 1, 0 FROM spans
    UNION ALL
    SELECT LEAST(day + 2 * {churn_days}, COALESCE(next_day, day + {churn_days}) + {churn_days}), 0, 0, -1, 0
    FROM spans
    UNION ALL
    SELECT day + {churn_days}, 0, 0, 0, 1 FROM spans
    WHERE next_day IS NULL OR next_day > day + {churn_days}
    UNION ALL
    SELECT LEAST(day + 2 * {churn_days}, COALESCE(next_day, day + 2 * {churn_days})), 0, 0, 0, -1 FROM spans
    WHERE next_day IS NULL OR next_day > day + {churn_days}
    UNION ALL
    SELECT business_day, 0, 0, 0, 0 FROM calendar
    WHERE business_day >= {from} - {lookback} AND business_day <= {to}
),
per_day AS (
    SELECT day, SUM(wau) AS wau, SUM(mau) AS mau, SUM(churn_base) AS churn_base, SUM(churned) AS churned
    FROM changes
    GROUP BY day
),
running AS (
    SELECT day,
           SUM(wau) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS wau,
           SUM(mau) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS mau,
           SUM(churn_base) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS churn_base,
           SUM(churned) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS churned
    FROM per_day
),
firsts AS (
    SELECT MIN(business_day) AS day
    FROM user_days
    WHERE business_day <= {to} AND ({population})
    GROUP BY user_id
),
new_users AS (
    SELECT day, COUNT(*) AS new_users FROM firsts WHERE day >= {from} GROUP BY day
),
sums AS (
    SELECT business_day AS day,
           COUNT(*) AS dau,
           COUNT(*) FILTER (WHERE count_purchase_tokens > 0) AS payers,
           SUM(count_purchase_tokens) AS purchases,
           SUM(purchased_tokens) AS purchased_tokens,
           SUM(purchase_cash) AS revenue,
           SUM(earned) AS earned,
           SUM(earned_partner) AS earned_partner,
           SUM(earned_app) AS earned_app,
           SUM(earned_reward) AS earned_reward,
           SUM(spent) AS spent,
           SUM(spent_game) AS spent_game,
           SUM(spent_unlock) AS spent_unlock,
           SUM(spent_item) AS spent_item,
           SUM(spent_paid) AS spent_paid,
           SUM(count_session_start) AS sessions,
           SUM(count_game_play) AS plays,
           SUM(count_partner_visit) AS partner_visits,
           COUNT(*) FILTER (WHERE count_partner_visit > 0 OR earned_partner > 0) AS partner_users,
           SUM(count_proposal_impression) AS impressions,
           SUM(count_proposal_click) AS clicks,
           SUM(count_proposal_conversion) AS conversions
    FROM user_days
    WHERE business_day >= {from} AND business_day <= {to} AND ({population})
    GROUP BY business_day
)
SELECT CAST(r.day AS INT) AS business_day,
       COALESCE(s.dau, 0) AS dau,
       r.wau,
       r.mau,
       COALESCE(n.new_users, 0) AS new_users,
       r.churn_base,
       r.churned,
       COALESCE(s.payers, 0) AS payers,
       COALESCE(s.purchases, 0) AS purchases,
       COALESCE(s.purchased_tokens, 0) AS purchased_tokens,
       COALESCE(s.revenue, 0) AS revenue,
       COALESCE(s.earned, 0) AS earned,
       COALESCE(s.earned_partner, 0) AS earned_partner,
       COALESCE(s.earned_app, 0) AS earned_app,
       COALESCE(s.earned_reward, 0) AS earned_reward,
       COALESCE(s.spent, 0) AS spent,
       COALESCE(s.spent_game, 0) AS spent_game,
       COALESCE(s.spent_unlock, 0) AS spent_unlock,
       COALESCE(s.spent_item, 0) AS spent_item,
       COALESCE(s.spent_paid, 0) AS spent_paid,
       COALESCE(s.sessions, 0) AS sessions,
       COALESCE(s.plays, 0) AS plays,
       COALESCE(s.partner_visits, 0) AS partner_visits,
       COALESCE(s.partner_users, 0) AS partner_users,
       COALESCE(s.impressions, 0) AS impressions,
       COALESCE(s.clicks, 0) AS clicks,
       COALESCE(s.conversions, 0) AS conversions
FROM running r
LEFT JOIN sums s ON s.day = r.day
LEFT JOIN new_users n ON n.day = r.day
WHERE r.day >= {from} AND r.day <= {to}
ORDER BY business_day
