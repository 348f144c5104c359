-- One row per user, business day and business hour with activity: the best time window
-- and the peak hours read these. Parameters: {from}, {to}, as in user_days.sql.
SELECT user_id,
       business_day,
       business_hour,
       COUNT(*) AS events,
       COUNT(*) FILTER (WHERE type = 'GAME_PLAY') AS plays
FROM events
WHERE business_day >= {from} AND business_day <= {to}
GROUP BY user_id, business_day, business_hour
ORDER BY business_day, user_id, business_hour
