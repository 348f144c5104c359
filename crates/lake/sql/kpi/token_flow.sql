-- Tokens per period: earned by source (partner A, the app, rewards), bought, spent by sink
-- (games, unlocks, items; paid = bought with cash), and the net flow into balances
-- (earned + bought - spent: positive means the economy inflates). Parameters as in
-- active_users.sql.
SELECT c.{period} AS period,
       COALESCE(SUM(d.earned), 0) AS earned,
       COALESCE(SUM(d.earned_partner), 0) AS earned_partner,
       COALESCE(SUM(d.earned_app), 0) AS earned_app,
       COALESCE(SUM(d.earned_reward), 0) AS earned_reward,
       COALESCE(SUM(d.purchased_tokens), 0) AS purchased,
       COALESCE(SUM(d.spent), 0) AS spent,
       COALESCE(SUM(d.spent_game), 0) AS spent_game,
       COALESCE(SUM(d.spent_unlock), 0) AS spent_unlock,
       COALESCE(SUM(d.spent_item), 0) AS spent_item,
       COALESCE(SUM(d.spent_paid), 0) AS spent_paid,
       COALESCE(SUM(d.earned + d.purchased_tokens - d.spent), 0) AS net_flow
FROM calendar c
LEFT JOIN {daily} d ON d.business_day = c.business_day
WHERE c.business_day >= {from} AND c.business_day <= {to}
GROUP BY c.{period}
ORDER BY period
