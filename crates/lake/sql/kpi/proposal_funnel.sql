-- Impressions, clicks and conversions per proposal id over the range; the caller groups
-- the ids by type and variant, which the ids carry. Parameters as in active_users.sql.
SELECT proposal_id, SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(conversions) AS conversions
FROM proposal_days
WHERE business_day >= {from} AND business_day <= {to}
GROUP BY proposal_id
ORDER BY proposal_id
