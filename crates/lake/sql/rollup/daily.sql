-- The KPI base: one row per business day from {from} to {to} (inclusive) that user_state
-- holds (from the first event on), days without events included. Active users (DAU, WAU,
-- MAU), new users, churn, payers and the day's sums.
-- Parameters (integers unless said): {from}, {to}, days since 1970-01-01; {churn_days}, N;
-- {population}, TRUE or a condition on user_id that restricts every figure to some users.
--
-- Windowed counts read user_state, each user's last active day as of a day: a user is
-- weekly active on day d when their last active day is after d - 7, monthly after d - 30.
-- The *_week and *_month counts are distinct users from the start of the day's week or
-- month to the day (active, paying, reached by partner A): a period's distinct users are
-- those of its last day.
-- Churn on day d: of the users active in (d - 2N, d - N] (churn_base: last active after
-- d - 2N as of day d - N), those with no event in (d - N, d] (churned: last active in
-- (d - 2N, d - N] as of day d).
WITH active AS (
    SELECT s.business_day AS day,
           COUNT(*) FILTER (WHERE s.last_day > s.business_day - 7) AS wau,
           COUNT(*) FILTER (WHERE s.last_day > s.business_day - 30) AS mau,
           COUNT(*) FILTER (WHERE s.first_day = s.business_day) AS new_users,
           COUNT(*) FILTER (WHERE s.last_day > s.business_day - 2 * {churn_days}
                              AND s.last_day <= s.business_day - {churn_days}) AS churned,
           COUNT(*) FILTER (WHERE s.last_day >= c.week) AS active_week,
           COUNT(*) FILTER (WHERE s.last_day >= c.month) AS active_month,
           COUNT(*) FILTER (WHERE s.last_paid_day >= c.week) AS payers_week,
           COUNT(*) FILTER (WHERE s.last_paid_day >= c.month) AS payers_month,
           COUNT(*) FILTER (WHERE s.last_partner_day >= c.week) AS partner_users_week,
           COUNT(*) FILTER (WHERE s.last_partner_day >= c.month) AS partner_users_month
    FROM user_state s
    JOIN calendar c ON c.business_day = s.business_day
    WHERE s.business_day >= {from} AND s.business_day <= {to} AND ({population})
    GROUP BY s.business_day
),
base AS (
    SELECT business_day + {churn_days} AS day,
           COUNT(*) FILTER (WHERE last_day > business_day - {churn_days}) AS churn_base
    FROM user_state
    WHERE business_day >= {from} - {churn_days} AND business_day <= {to} - {churn_days} AND ({population})
    GROUP BY business_day
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
           SUM(partner_dwell_s) AS partner_dwell_s,
           COUNT(*) FILTER (WHERE count_partner_visit > 0 OR earned_partner > 0) AS partner_users,
           SUM(count_proposal_impression) AS impressions,
           SUM(count_proposal_click) AS clicks,
           SUM(count_proposal_conversion) AS conversions
    FROM user_days
    WHERE business_day >= {from} AND business_day <= {to} AND ({population})
    GROUP BY business_day
)
SELECT CAST(a.day AS INT) AS business_day,
       COALESCE(s.dau, 0) AS dau,
       COALESCE(a.wau, 0) AS wau,
       COALESCE(a.mau, 0) AS mau,
       COALESCE(a.new_users, 0) AS new_users,
       COALESCE(b.churn_base, 0) AS churn_base,
       COALESCE(a.churned, 0) AS churned,
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
       COALESCE(s.partner_dwell_s, 0) AS partner_dwell_s,
       COALESCE(s.partner_users, 0) AS partner_users,
       COALESCE(s.impressions, 0) AS impressions,
       COALESCE(s.clicks, 0) AS clicks,
       COALESCE(s.conversions, 0) AS conversions,
       COALESCE(a.active_week, 0) AS active_week,
       COALESCE(a.active_month, 0) AS active_month,
       COALESCE(a.payers_week, 0) AS payers_week,
       COALESCE(a.payers_month, 0) AS payers_month,
       COALESCE(a.partner_users_week, 0) AS partner_users_week,
       COALESCE(a.partner_users_month, 0) AS partner_users_month
FROM active a
LEFT JOIN base b ON b.day = a.day
LEFT JOIN sums s ON s.day = a.day
ORDER BY business_day
