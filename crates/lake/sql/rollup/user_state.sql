-- Every user seen up to a business day, as of that day: the first and the last day they
-- were active, the last day they paid, the last day partner A reached them, and their
-- balance (every ledger movement up to the day's end). Folded one
-- day at a time: a day's rows are the previous day's rows of this table updated with the
-- day's user_days. "Distinct users active in a window ending on day d" is then a count over
-- one day's rows, whatever the window's length, instead of a pass over every user-day of it.
-- Parameters: {to}, the business day (days since 1970-01-01); {from} equals it.
WITH today AS (
    SELECT user_id,
           count_purchase_tokens > 0 AS paid,
           count_partner_visit > 0 OR earned_partner > 0 AS partner,
           earned + purchased_tokens - spent AS net
    FROM user_days
    WHERE business_day = {to}
),
before AS (
    SELECT user_id, first_day, last_day, last_paid_day, last_partner_day, balance
    FROM user_state
    WHERE business_day = {to} - 1
)
SELECT COALESCE(t.user_id, b.user_id) AS user_id,
       CAST({to} AS INT) AS business_day,
       CAST(COALESCE(b.first_day, {to}) AS INT) AS first_day,
       CAST(CASE WHEN t.user_id IS NULL THEN b.last_day ELSE {to} END AS INT) AS last_day,
       CAST(CASE WHEN t.paid THEN {to} ELSE b.last_paid_day END AS INT) AS last_paid_day,
       CAST(CASE WHEN t.partner THEN {to} ELSE b.last_partner_day END AS INT) AS last_partner_day,
       CAST(COALESCE(b.balance, 0) + COALESCE(t.net, 0) AS BIGINT) AS balance
FROM before b
FULL OUTER JOIN today t ON t.user_id = b.user_id
