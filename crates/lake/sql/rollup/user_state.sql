-- Every user seen up to a business day, as of that day: the first and the last day they
-- were active, the active day before the last (retention_days.sql counts a return once per
-- period with it), the last day they paid, the last day partner A reached them, their balance
-- (every ledger movement up to the day's end) and their sums over the RFM window that ends
-- on the day. Folded one day at a time: a day's rows are the previous day's rows of this
-- table updated with the day's user_days, less the day that leaves the window. "Distinct
-- users active in a window ending on day d" is then a count over one day's rows, whatever
-- the window's length, and RFM reads one day's rows instead of every user-day of its window.
-- Parameters: {to}, the business day (days since 1970-01-01; {from} equals it);
-- {window_days} and {frequency} as in rfm.sql.
WITH today AS (
    SELECT user_id,
           count_purchase_tokens > 0 AS paid,
           count_partner_visit > 0 OR earned_partner > 0 AS partner,
           earned + purchased_tokens - spent AS net,
           {frequency} AS counted, spent, spent_paid, count_partner_visit, earned_partner
    FROM user_days
    WHERE business_day = {to}
),
leaving AS (
    SELECT user_id, {frequency} AS counted, spent, spent_paid, count_partner_visit, earned_partner
    FROM user_days
    WHERE business_day = {to} - {window_days}
),
before AS (
    SELECT user_id, first_day, last_day, previous_day, last_paid_day, last_partner_day, balance, window_frequency,
           window_spent, window_paid_spend, window_partner_visits, window_partner_tokens
    FROM user_state
    WHERE business_day = {to} - 1
),
folded AS (
    SELECT COALESCE(t.user_id, b.user_id) AS user_id,
           b.first_day, b.last_day, b.previous_day, b.last_paid_day, b.last_partner_day, b.balance,
           b.window_frequency, b.window_spent, b.window_paid_spend, b.window_partner_visits,
           b.window_partner_tokens,
           t.user_id IS NOT NULL AS active, t.paid, t.partner, t.net, t.counted, t.spent,
           t.spent_paid, t.count_partner_visit, t.earned_partner
    FROM before b
    FULL OUTER JOIN today t ON t.user_id = b.user_id
)
SELECT f.user_id,
       CAST({to} AS INT) AS business_day,
       CAST(COALESCE(f.first_day, {to}) AS INT) AS first_day,
       CAST(CASE WHEN f.active THEN {to} ELSE f.last_day END AS INT) AS last_day,
       CAST(CASE WHEN f.active THEN f.last_day ELSE f.previous_day END AS INT) AS previous_day,
       CAST(CASE WHEN f.paid THEN {to} ELSE f.last_paid_day END AS INT) AS last_paid_day,
       CAST(CASE WHEN f.partner THEN {to} ELSE f.last_partner_day END AS INT) AS last_partner_day,
       CAST(COALESCE(f.balance, 0) + COALESCE(f.net, 0) AS BIGINT) AS balance,
       CAST(COALESCE(f.window_frequency, 0) + COALESCE(f.counted, 0) - COALESCE(l.counted, 0) AS BIGINT)
           AS window_frequency,
       CAST(COALESCE(f.window_spent, 0) + COALESCE(f.spent, 0) - COALESCE(l.spent, 0) AS BIGINT)
           AS window_spent,
       CAST(COALESCE(f.window_paid_spend, 0) + COALESCE(f.spent_paid, 0) - COALESCE(l.spent_paid, 0) AS BIGINT)
           AS window_paid_spend,
       CAST(COALESCE(f.window_partner_visits, 0) + COALESCE(f.count_partner_visit, 0)
            - COALESCE(l.count_partner_visit, 0) AS BIGINT) AS window_partner_visits,
       CAST(COALESCE(f.window_partner_tokens, 0) + COALESCE(f.earned_partner, 0)
            - COALESCE(l.earned_partner, 0) AS BIGINT) AS window_partner_tokens
FROM folded f
LEFT JOIN leaving l ON l.user_id = f.user_id
