-- RFM per user as of one business day (see DESIGN.md, "RFM"), in one pass over the history.
-- Parameters, substituted before the text runs:
--   {as_of_day}        the as-of business day, as days since 1970-01-01 (integer literal)
--   {window_days}      the window: the as-of day and the days before it (default 30)
--   {frequency_filter} which events F counts: TRUE (all, the default) or `type IN (...)`
-- M is one of three measures computed here (tokens spent, paid spend, partner tokens); the
-- configuration picks which one the rules see. The balance is the sum of every ledger
-- movement up to the as-of day, so a backfill sees the balance the user had then.
-- Plain standard SQL over integer days: it runs unchanged on DataFusion, DuckDB and Spark SQL.
WITH history AS (
    SELECT user_id, business_day, type, amount, tokens, paid, source,
           CASE WHEN business_day > {as_of_day} - {window_days} THEN 1 ELSE 0 END AS in_window
    FROM events
    WHERE business_day <= {as_of_day}
)
SELECT user_id,
       CAST({as_of_day} - MAX(business_day) AS BIGINT) AS recency_days,
       CAST(SUM(CASE WHEN in_window = 1 AND ({frequency_filter}) THEN 1 ELSE 0 END) AS BIGINT) AS frequency,
       CAST(SUM(CASE WHEN in_window = 1 AND type = 'SPEND_CYBER_TOKENS' THEN amount ELSE 0 END) AS BIGINT)
           AS tokens_spent,
       CAST(SUM(CASE WHEN in_window = 1 AND type = 'SPEND_CYBER_TOKENS' AND paid THEN amount ELSE 0 END) AS BIGINT)
           AS paid_spend,
       CAST(SUM(CASE WHEN in_window = 1 AND type = 'PARTNER_VISIT' THEN 1 ELSE 0 END) AS BIGINT) AS partner_visits,
       CAST(SUM(CASE WHEN in_window = 1 AND type = 'EARN_CYBER_TOKENS' AND source = 'partner' THEN amount ELSE 0 END)
           AS BIGINT) AS partner_tokens,
       CAST(SUM(CASE WHEN type = 'EARN_CYBER_TOKENS' THEN amount
                     WHEN type = 'PURCHASE_TOKENS' THEN tokens
                     WHEN type = 'SPEND_CYBER_TOKENS' THEN -amount
                     ELSE 0 END) AS BIGINT) AS balance
FROM history
GROUP BY user_id
ORDER BY user_id
