-- One row per proposal id and business day it was shown, clicked or converted: the
-- learning loop and the proposal funnel read these. Parameters: {from}, {to}, as in user_days.sql.
SELECT proposal_id,
       business_day,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_IMPRESSION') AS impressions,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_CLICK') AS clicks,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_CONVERSION') AS conversions
FROM events
WHERE business_day >= {from} AND business_day <= {to}
  AND type IN ('PROPOSAL_IMPRESSION', 'PROPOSAL_CLICK', 'PROPOSAL_CONVERSION')
  AND proposal_id IS NOT NULL
GROUP BY proposal_id, business_day
ORDER BY business_day, proposal_id
