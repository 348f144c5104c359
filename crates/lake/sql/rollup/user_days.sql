-- One row per user and business day: what the user did that day. Every KPI, RFM and the
-- models read these rows instead of the raw events. A pure function of the day's events,
-- so re-rolling a day after late events replaces exactly its rows.
-- Parameters: {day}, the business day rolled (days since 1970-01-01). One day a query, so
-- the rows group by user alone (measured: a third faster than by user and day).
SELECT user_id,
       CAST({day} AS INT) AS business_day,
       COUNT(*) AS events,
       COUNT(*) FILTER (WHERE type = 'EARN_CYBER_TOKENS') AS count_earn_cyber_tokens,
       COUNT(*) FILTER (WHERE type = 'SPEND_CYBER_TOKENS') AS count_spend_cyber_tokens,
       COUNT(*) FILTER (WHERE type = 'PURCHASE_TOKENS') AS count_purchase_tokens,
       COUNT(*) FILTER (WHERE type = 'SESSION_START') AS count_session_start,
       COUNT(*) FILTER (WHERE type = 'GAME_PLAY') AS count_game_play,
       COUNT(*) FILTER (WHERE type = 'FAIL_GAME') AS count_fail_game,
       COUNT(*) FILTER (WHERE type = 'CONTENT_UNLOCK') AS count_content_unlock,
       COUNT(*) FILTER (WHERE type = 'VIEW_CONTENT') AS count_view_content,
       COUNT(*) FILTER (WHERE type = 'CLAIM_REWARD') AS count_claim_reward,
       COUNT(*) FILTER (WHERE type = 'BUY_ITEM') AS count_buy_item,
       COUNT(*) FILTER (WHERE type = 'PARTNER_VISIT') AS count_partner_visit,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_IMPRESSION') AS count_proposal_impression,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_CLICK') AS count_proposal_click,
       COUNT(*) FILTER (WHERE type = 'PROPOSAL_CONVERSION') AS count_proposal_conversion,
       COUNT(*) FILTER (WHERE type = 'GAME_PLAY' AND result = 'win') AS wins,
       COUNT(*) FILTER (WHERE type = 'GAME_PLAY' AND result = 'lose') AS losses,
       COALESCE(SUM(bet) FILTER (WHERE type = 'GAME_PLAY'), 0) AS bet_tokens,
       COALESCE(SUM(payout) FILTER (WHERE type = 'GAME_PLAY'), 0) AS payout_tokens,
       COALESCE(SUM(amount) FILTER (WHERE type = 'EARN_CYBER_TOKENS'), 0) AS earned,
       COALESCE(SUM(amount) FILTER (WHERE type = 'EARN_CYBER_TOKENS' AND source = 'partner'), 0) AS earned_partner,
       COALESCE(SUM(amount) FILTER (WHERE type = 'EARN_CYBER_TOKENS' AND source = 'app'), 0) AS earned_app,
       COALESCE(SUM(amount) FILTER (WHERE type = 'EARN_CYBER_TOKENS' AND source = 'reward'), 0) AS earned_reward,
       COALESCE(SUM(amount) FILTER (WHERE type = 'SPEND_CYBER_TOKENS'), 0) AS spent,
       COALESCE(SUM(amount) FILTER (WHERE type = 'SPEND_CYBER_TOKENS' AND sink = 'game'), 0) AS spent_game,
       COALESCE(SUM(amount) FILTER (WHERE type = 'SPEND_CYBER_TOKENS' AND sink = 'unlock'), 0) AS spent_unlock,
       COALESCE(SUM(amount) FILTER (WHERE type = 'SPEND_CYBER_TOKENS' AND sink = 'item'), 0) AS spent_item,
       COALESCE(SUM(amount) FILTER (WHERE type = 'SPEND_CYBER_TOKENS' AND paid), 0) AS spent_paid,
       COALESCE(SUM(tokens) FILTER (WHERE type = 'PURCHASE_TOKENS'), 0) AS purchased_tokens,
       COALESCE(SUM(cash_amount) FILTER (WHERE type = 'PURCHASE_TOKENS'), 0) AS purchase_cash,
       COALESCE(SUM(dwell_s) FILTER (WHERE type = 'PARTNER_VISIT'), 0) AS partner_dwell_s,
       COALESCE(MAX(stage) FILTER (WHERE type = 'CONTENT_UNLOCK'), 0) AS max_unlock_stage,
       MIN(ts) AS first_ts,
       MAX(ts) AS last_ts,
       -- Bit h set when the user had an event in business hour h (0-23); a distinct count
       -- of hours cost more than all the other columns together.
       BIT_OR(CAST(POWER(2, business_hour) AS BIGINT)) AS active_hours_mask
FROM events
WHERE business_day = {day}
GROUP BY user_id
ORDER BY user_id
