-- Users per segment on each night (the nightly batch's assignments), with the tokens they
-- spent in the RFM window: what the segment mix and the whale share read instead of every
-- user of every night.
-- Parameters: {from}, {to}, the nights (days since 1970-01-01, inclusive).
SELECT business_day, segment, COUNT(*) AS users, SUM(tokens_spent) AS tokens_spent
FROM nights
WHERE business_day >= {from} AND business_day <= {to}
GROUP BY business_day, segment
ORDER BY business_day, segment
