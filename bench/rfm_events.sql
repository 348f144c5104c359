-- RFM per user as of one business day (see DESIGN.md, "RFM"), in one pass over the history.
-- Parameters, substituted before the text runs:
--   {as_of_day}        the as-of business day, as days since 1970-01-01 (integer literal)
--   {window_days}      the window: the as-of day and the days before it (default 30)
--   {frequency_filter} which events F counts: TRUE (all, the default) or `type IN (...)`
-- M is one of three measures computed here (tokens spent, paid spend, partner tokens); the
-- configuration picks which one the rules see. The balance is the sum of every ledger
-- movement up to the as-of day, so a backfill sees the balance the user had then.
-- Standard SQL (aggregate FILTER, SQL:2003) over integer days: it runs unchanged on
-- DataFusion, DuckDB and Spark SQL. Each predicate is computed once per row, in `history`.
WITH history AS (
    SELECT user_id, business_day, amount, tokens, paid,
           business_day > {as_of_day} - {window_days} AS in_window,
           type = 'SPEND_CYBER_TOKENS' AS is_spend,
           type = 'EARN_CYBER_TOKENS' AS is_earn,
           type = 'PURCHASE_TOKENS' AS is_purchase,
           type = 'PARTNER_VISIT' AS is_visit,
           source = 'partner' AS from_partner,
           ({frequency_filter}) AS counted
    FROM events
    WHERE business_day <= {as_of_day}
)
SELECT user_id,
       CAST({as_of_day} - MAX(business_day) AS BIGINT) AS recency_days,
       COUNT(*) FILTER (WHERE in_window AND counted) AS frequency,
       COALESCE(SUM(amount) FILTER (WHERE in_window AND is_spend), 0) AS tokens_spent,
       COALESCE(SUM(amount) FILTER (WHERE in_window AND is_spend AND paid), 0) AS paid_spend,
       COUNT(*) FILTER (WHERE in_window AND is_visit) AS partner_visits,
       COALESCE(SUM(amount) FILTER (WHERE in_window AND is_earn AND from_partner), 0) AS partner_tokens,
       COALESCE(SUM(amount) FILTER (WHERE is_earn), 0)
         + COALESCE(SUM(tokens) FILTER (WHERE is_purchase), 0)
         - COALESCE(SUM(amount) FILTER (WHERE is_spend), 0) AS balance
FROM history
GROUP BY user_id
ORDER BY user_id
