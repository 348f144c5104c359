-- RFM per user as of one business day (see DESIGN.md, "RFM").
-- Parameters, substituted as integer literals before the text runs:
--   {as_of_day}    the as-of business day, as days since 1970-01-01
--   {window_days}  the window: the as-of day and the days before it (default 30)
-- Plain standard SQL over integer days: it runs unchanged on DataFusion and on Spark SQL.
-- A backfill (an as-of day in the past) sees only events up to that day.
WITH history AS (
    SELECT user_id, business_day, type, amount, source
    FROM events
    WHERE business_day <= {as_of_day}
),
last_seen AS (
    SELECT user_id, MAX(business_day) AS last_day
    FROM history
    GROUP BY user_id
),
in_window AS (
    SELECT user_id,
           COUNT(*) AS frequency,
           SUM(CASE WHEN type = 'SPEND_CYBER_TOKENS' THEN amount ELSE 0 END) AS monetary,
           SUM(CASE WHEN type = 'PARTNER_VISIT' THEN 1 ELSE 0 END) AS partner_visits,
           SUM(CASE WHEN type = 'EARN_CYBER_TOKENS' AND source = 'partner' THEN amount ELSE 0 END) AS partner_tokens
    FROM history
    WHERE business_day > {as_of_day} - {window_days}
    GROUP BY user_id
)
SELECT l.user_id AS user_id,
       CAST({as_of_day} - l.last_day AS BIGINT) AS recency_days,
       CAST(COALESCE(w.frequency, 0) AS BIGINT) AS frequency,
       CAST(COALESCE(w.monetary, 0) AS BIGINT) AS monetary,
       CAST(COALESCE(w.partner_visits, 0) AS BIGINT) AS partner_visits,
       CAST(COALESCE(w.partner_tokens, 0) AS BIGINT) AS partner_tokens
FROM last_seen l
LEFT JOIN in_window w ON w.user_id = l.user_id
ORDER BY l.user_id
