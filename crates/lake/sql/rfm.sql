-- RFM per user as of one business day (see DESIGN.md, "RFM"), from the daily rollups.
-- Parameters, substituted before the text runs:
--   {as_of_day}   the as-of business day, as days since 1970-01-01 (integer literal)
--   {window_days} the window: the as-of day and the days before it (default 30)
--   {frequency}   what F counts per user-day: `events` (all, the default) or a sum of
--                 `count_<type>` columns
--   {state_day}   the last day user_state holds up to the as-of day (no events came after it)
-- M is one of three measures computed here (tokens spent, paid spend, partner tokens); the
-- configuration picks which one the rules see. Every user seen by the as-of day, their last
-- active day, their balance (every ledger movement up to it, so a backfill sees the balance
-- the user had then) and their sums over the window come from one day of user_state, folded
-- night by night with the same window and F, so the query reads one day's rows, however
-- long the window and the history. When the as-of day is later than that day (quiet days
-- at the end), the days that left the window in between are taken off.
WITH gone AS (
    SELECT user_id,
           SUM({frequency}) AS frequency,
           SUM(spent) AS tokens_spent,
           SUM(spent_paid) AS paid_spend,
           SUM(count_partner_visit) AS partner_visits,
           SUM(earned_partner) AS partner_tokens
    FROM user_days
    WHERE business_day > {state_day} - {window_days} AND business_day <= {as_of_day} - {window_days}
    GROUP BY user_id
)
SELECT s.user_id,
       CAST({as_of_day} - s.last_day AS BIGINT) AS recency_days,
       s.window_frequency - COALESCE(g.frequency, 0) AS frequency,
       s.window_spent - COALESCE(g.tokens_spent, 0) AS tokens_spent,
       s.window_paid_spend - COALESCE(g.paid_spend, 0) AS paid_spend,
       s.window_partner_visits - COALESCE(g.partner_visits, 0) AS partner_visits,
       s.window_partner_tokens - COALESCE(g.partner_tokens, 0) AS partner_tokens,
       s.balance
FROM user_state s
LEFT JOIN gone g ON g.user_id = s.user_id
WHERE s.business_day = {state_day}
ORDER BY s.user_id
