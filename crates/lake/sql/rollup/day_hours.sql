-- Activity per business day and hour, summed over users: the peak-hours heat map reads
-- these instead of every user's hours. Parameters: {from}, {to}, the business days rolled
-- (days since 1970-01-01, inclusive).
SELECT business_day,
       business_hour,
       SUM(events) AS events,
       SUM(plays) AS plays,
       COUNT(*) AS users
FROM user_hours
WHERE business_day >= {from} AND business_day <= {to}
GROUP BY business_day, business_hour
ORDER BY business_day, business_hour
