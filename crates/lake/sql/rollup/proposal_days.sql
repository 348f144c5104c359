-- One row per proposal id and business day it was shown, clicked or converted: the
-- learning loop and the proposal funnel read these. Parameters: {day}, as in user_days.sql.
SELECT proposal_id,
       CAST({day} AS INT) AS business_day,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_IMPRESSION') AS impressions,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_CLICK') AS clicks,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_CONVERSION') AS conversions
FROM events
WHERE business_day = {day}
  AND type IN ('PROPOSAL_IMPRESSION', 'PROPOSAL_CLICK', 'PROPOSAL_CONVERSION')
  AND proposal_id IS NOT NULL
GROUP BY proposal_id
ORDER BY proposal_id
