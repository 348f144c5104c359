-- What followed {as_of} (days since 1970-01-01) for each user active in it: the active days
-- among the {churn_days} business days after it, and tokens spent and cash paid over the 30
-- and 90 after it. Only days after {as_of} are read (features.sql reads only days up to it);
-- a user absent here was not active at all.
SELECT user_id,
       CAST(COUNT(*) FILTER (WHERE business_day <= {as_of} + {churn_days}) AS BIGINT) AS active_days_next,
       CAST(COALESCE(SUM(spent) FILTER (WHERE business_day <= {as_of} + 30), 0) AS BIGINT) AS spend_next_30d,
       CAST(COALESCE(SUM(spent), 0) AS BIGINT) AS spend_next_90d,
       CAST(COALESCE(SUM(purchase_cash) FILTER (WHERE business_day <= {as_of} + 30), 0) AS BIGINT) AS cash_next_30d,
       CAST(COALESCE(SUM(purchase_cash), 0) AS BIGINT) AS cash_next_90d
FROM user_days
WHERE business_day > {as_of} AND business_day <= {as_of} + 90
GROUP BY user_id
ORDER BY user_id
