-- One row per user, business day and business hour with activity: the best time window
-- and the peak hours read these. Parameters: {day}, as in user_days.sql.
SELECT user_id,
       CAST({day} AS INT) AS business_day,
       business_hour,
       COUNT(*) AS events,
       COUNT(*) FILTER (WHERE type = 'GAME_PLAY') AS plays
FROM events
WHERE business_day = {day}
GROUP BY user_id, business_hour
