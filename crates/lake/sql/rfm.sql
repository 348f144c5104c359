-- RFM per user as of one business day (see DESIGN.md, "RFM"), from the daily rollups.
-- Parameters, substituted before the text runs:
--   {as_of_day}   the as-of business day, as days since 1970-01-01 (integer literal)
--   {window_days} the window: the as-of day and the days before it (default 30)
--   {frequency}   what F counts per user-day: `events` (all, the default) or a sum of
--                 `count_<type>` columns
-- M is one of three measures computed here (tokens spent, paid spend, partner tokens); the
-- configuration picks which one the rules see. The balance is the sum of every ledger
-- movement up to the as-of day, so a backfill sees the balance the user had then.
WITH history AS (
    SELECT user_id, business_day, spent, spent_paid, count_partner_visit, earned_partner,
           earned + purchased_tokens - spent AS net,
           ({frequency}) AS counted,
           business_day > {as_of_day} - {window_days} AS in_window
    FROM user_days
    WHERE business_day <= {as_of_day}
)
SELECT user_id,
       CAST({as_of_day} - MAX(business_day) AS BIGINT) AS recency_days,
       COALESCE(SUM(counted) FILTER (WHERE in_window), 0) AS frequency,
       COALESCE(SUM(spent) FILTER (WHERE in_window), 0) AS tokens_spent,
       COALESCE(SUM(spent_paid) FILTER (WHERE in_window), 0) AS paid_spend,
       COALESCE(SUM(count_partner_visit) FILTER (WHERE in_window), 0) AS partner_visits,
       COALESCE(SUM(earned_partner) FILTER (WHERE in_window), 0) AS partner_tokens,
       SUM(net) AS balance
FROM history
GROUP BY user_id
ORDER BY user_id
