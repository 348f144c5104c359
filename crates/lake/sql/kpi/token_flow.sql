-- Tokens per period: earned by source (partner A, the app, rewards), bought, spent by sink
-- (games, unlocks, items; paid = bought with cash), and the net flow into balances
-- (earned + bought - spent: positive means the economy inflates). Parameters as in
-- active_users.sql.
SELECT c.{period} AS period,
       SUM(d.earned) AS earned,
       SUM(d.earned_partner) AS earned_partner,
       SUM(d.earned_app) AS earned_app,
       SUM(d.earned_reward) AS earned_reward,
       SUM(d.purchased_tokens) AS purchased,
       SUM(d.spent) AS spent,
       SUM(d.spent_game) AS spent_game,
       SUM(d.spent_unlock) AS spent_unlock,
       SUM(d.spent_item) AS spent_item,
       SUM(d.spent_paid) AS spent_paid,
       SUM(d.earned) + SUM(d.purchased_tokens) - SUM(d.spent) AS net_flow
FROM {daily} d
JOIN calendar c ON c.business_day = d.business_day
WHERE d.business_day >= {from} AND d.business_day <= {to}
GROUP BY c.{period}
ORDER BY period
