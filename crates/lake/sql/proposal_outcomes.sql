-- Per proposal id, how often it was shown and converted inside the window (for the
-- learning loop, which reads segment, type, variant and propensity from the id itself).
-- Parameters as in rfm.sql: {as_of_day}, {window_days}.
SELECT proposal_id,
       CAST(SUM(CASE WHEN type = 'PROPOSAL_IMPRESSION' THEN 1 ELSE 0 END) AS BIGINT) AS impressions,
       CAST(SUM(CASE WHEN type = 'PROPOSAL_CONVERSION' THEN 1 ELSE 0 END) AS BIGINT) AS conversions
FROM events
WHERE type IN ('PROPOSAL_IMPRESSION', 'PROPOSAL_CONVERSION')
  AND proposal_id IS NOT NULL
  AND business_day <= {as_of_day} AND business_day > {as_of_day} - {window_days}
GROUP BY proposal_id
