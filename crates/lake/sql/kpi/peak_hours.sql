-- Activity by weekday (0 = Monday) and business hour over the range: events, game plays
-- and active users summed over days. Parameters as in active_users.sql ({period} unused:
-- the grid is the period).
SELECT c.weekday, h.business_hour, SUM(h.events) AS events, SUM(h.plays) AS plays, SUM(h.users) AS users
FROM day_hours h
JOIN calendar c ON c.business_day = h.business_day
WHERE h.business_day >= {from} AND h.business_day <= {to}
GROUP BY c.weekday, h.business_hour
ORDER BY c.weekday, h.business_hour
