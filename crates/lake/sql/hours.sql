-- Events per user and business hour inside the window (for the best time window).
-- Parameters as in rfm.sql: {as_of_day}, {window_days}.
SELECT user_id, business_hour, SUM(events) AS events
FROM user_hours
WHERE business_day <= {as_of_day} AND business_day > {as_of_day} - {window_days}
GROUP BY user_id, business_hour
