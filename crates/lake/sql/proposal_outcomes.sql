-- Per proposal id, how often it was shown and converted inside the window (for the
-- learning loop, which reads segment, type, variant and propensity from the id itself).
-- Parameters as in rfm.sql: {as_of_day}, {window_days}.
SELECT proposal_id, SUM(impressions) AS impressions, SUM(conversions) AS conversions
FROM proposal_days
WHERE business_day <= {as_of_day} AND business_day > {as_of_day} - {window_days}
GROUP BY proposal_id
HAVING SUM(impressions) > 0 OR SUM(conversions) > 0
