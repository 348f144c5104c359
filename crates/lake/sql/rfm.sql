-- RFM per user as of one business day (see DESIGN.md, "RFM"), from the daily rollups.
-- Parameters, substituted before the text runs:
--   {as_of_day}   the as-of business day, as days since 1970-01-01 (integer literal)
--   {window_days} the window: the as-of day and the days before it (default 30)
--   {frequency}   what F counts per user-day: `events` (all, the default) or a sum of
--                 `count_<type>` columns
--   {state_day}   the last day user_state holds up to the as-of day (no events came after it)
-- M is one of three measures computed here (tokens spent, paid spend, partner tokens); the
-- configuration picks which one the rules see. Every user seen by the as-of day, their last
-- active day and their balance (every ledger movement up to it, so a backfill sees the
-- balance the user had then) come from one day of user_state: the query reads the window
-- and that day, however long the history.
WITH windowed AS (
    SELECT user_id,
           SUM({frequency}) AS frequency,
           SUM(spent) AS tokens_spent,
           SUM(spent_paid) AS paid_spend,
           SUM(count_partner_visit) AS partner_visits,
           SUM(earned_partner) AS partner_tokens
    FROM user_days
    WHERE business_day <= {as_of_day} AND business_day > {as_of_day} - {window_days}
    GROUP BY user_id
)
SELECT s.user_id,
       CAST({as_of_day} - s.last_day AS BIGINT) AS recency_days,
       COALESCE(w.frequency, 0) AS frequency,
       COALESCE(w.tokens_spent, 0) AS tokens_spent,
       COALESCE(w.paid_spend, 0) AS paid_spend,
       COALESCE(w.partner_visits, 0) AS partner_visits,
       COALESCE(w.partner_tokens, 0) AS partner_tokens,
       s.balance
FROM user_state s
LEFT JOIN windowed w ON w.user_id = s.user_id
WHERE s.business_day = {state_day}
ORDER BY s.user_id
