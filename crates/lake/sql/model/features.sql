-- The models' features: one row per user active in the 28 business days up to {as_of}
-- (days since 1970-01-01), as of that day's end. Only rollup rows of days up to {as_of} are
-- read, so a feature never sees what followed (labels.sql reads only what followed). Every
-- feature is a DOUBLE; NULL where it has no value (no partner visit yet, say).
-- Windows: the last 7 days ("_7d"), the 21 before them ("_prev21d"), all 28 ("_28d").
WITH recent AS (
    SELECT user_id,
           COUNT(*) FILTER (WHERE business_day > {as_of} - 7) AS active_days_7d,
           COUNT(*) AS active_days_28d,
           SUM(events) FILTER (WHERE business_day > {as_of} - 7) AS events_7d,
           SUM(events) FILTER (WHERE business_day <= {as_of} - 7) AS events_prev21d,
           SUM(count_session_start) FILTER (WHERE business_day > {as_of} - 7) AS sessions_7d,
           SUM(count_session_start) AS sessions_28d,
           SUM(count_game_play) FILTER (WHERE business_day > {as_of} - 7) AS plays_7d,
           SUM(count_game_play) FILTER (WHERE business_day <= {as_of} - 7) AS plays_prev21d,
           SUM(wins) FILTER (WHERE business_day > {as_of} - 7) AS wins_7d,
           SUM(losses) FILTER (WHERE business_day > {as_of} - 7) AS losses_7d,
           SUM(count_fail_game) AS failed_games_28d,
           SUM(bet_tokens) FILTER (WHERE business_day > {as_of} - 7) AS bet_tokens_7d,
           SUM(payout_tokens - bet_tokens) FILTER (WHERE business_day > {as_of} - 7) AS game_net_7d,
           SUM(payout_tokens - bet_tokens) AS game_net_28d,
           SUM(count_partner_visit) FILTER (WHERE business_day > {as_of} - 7) AS partner_visits_7d,
           SUM(count_partner_visit) AS partner_visits_28d,
           SUM(earned_partner) FILTER (WHERE business_day > {as_of} - 7) AS partner_tokens_7d,
           SUM(partner_dwell_s) AS partner_dwell_s_28d,
           SUM(earned) FILTER (WHERE business_day > {as_of} - 7) AS earned_7d,
           SUM(earned) AS earned_28d,
           SUM(spent) FILTER (WHERE business_day > {as_of} - 7) AS spent_7d,
           SUM(spent) FILTER (WHERE business_day <= {as_of} - 7) AS spent_prev21d,
           SUM(spent_paid) AS spent_paid_28d,
           SUM(count_purchase_tokens) AS purchases_28d,
           SUM(purchase_cash) AS purchase_cash_28d,
           SUM(count_content_unlock) AS unlocks_28d,
           MAX(max_unlock_stage) AS unlock_stage_28d,
           SUM(count_view_content) AS content_views_28d,
           SUM(count_claim_reward) AS rewards_claimed_28d,
           SUM(count_proposal_impression) AS proposals_seen_28d,
           SUM(count_proposal_click) AS proposals_clicked_28d,
           SUM(count_proposal_conversion) AS proposals_converted_28d,
           MAX(business_day) FILTER (WHERE wins > 0) AS last_win_day
    FROM user_days
    WHERE business_day > {as_of} - 28 AND business_day <= {as_of}
    GROUP BY user_id
),
last_day AS (
    SELECT u.user_id, u.events, u.losses, u.wins, u.last_ts
    FROM user_days u
    JOIN user_state s ON s.user_id = u.user_id AND s.business_day = {as_of} AND u.business_day = s.last_day
    WHERE u.business_day > {as_of} - 28 AND u.business_day <= {as_of}
),
-- Losses on the days after the last day with a win: a losing run, to within that day.
losing AS (
    SELECT u.user_id, SUM(u.losses) AS losses_since_win
    FROM user_days u
    JOIN recent r ON r.user_id = u.user_id
    WHERE u.business_day > COALESCE(r.last_win_day, {as_of} - 28) AND u.business_day <= {as_of}
    GROUP BY u.user_id
),
week_before AS (
    SELECT user_id, balance FROM user_state WHERE business_day = {as_of} - 7
),
-- The quiz risk profile as the latest night up to {as_of} recorded it (0 Low-Risk, 1
-- Moderate-Risk, 2 High-Risk; NULL before any night or without an answer). A night records
-- the profiles when it runs, after its day's end: an answer given between the two counts.
quiz AS (
    SELECT user_id,
           CASE risk_profile WHEN 'Low-Risk' THEN 0.0 WHEN 'Moderate-Risk' THEN 1.0 WHEN 'High-Risk' THEN 2.0 END
               AS risk_level
    FROM nights
    WHERE business_day = (SELECT MAX(business_day) FROM nights WHERE business_day <= {as_of})
)
SELECT s.user_id,
       CAST({as_of} - s.first_day AS DOUBLE) AS tenure_days,
       CAST({as_of} - s.last_day AS DOUBLE) AS days_since_active,
       CAST(s.last_day - s.previous_day AS DOUBLE) AS last_gap_days,
       CAST({as_of} - s.last_partner_day AS DOUBLE) AS days_since_partner,
       CAST({as_of} - s.last_paid_day AS DOUBLE) AS days_since_purchase,
       CAST(r.active_days_7d AS DOUBLE) AS active_days_7d,
       CAST(r.active_days_28d AS DOUBLE) AS active_days_28d,
       CAST(r.active_days_28d AS DOUBLE) / CAST(LEAST(28, {as_of} - s.first_day + 1) AS DOUBLE) AS active_share_28d,
       -- The chance of the present quiet spell for a user still playing at their own 28-day
       -- rate (smoothed): low means the spell is unusual for them.
       POWER(1.0 - (CAST(r.active_days_28d AS DOUBLE) + 1.0) / (CAST(LEAST(28, {as_of} - s.first_day + 1) AS DOUBLE) + 2.0),
             CAST({as_of} - s.last_day AS DOUBLE)) AS quiet_spell_chance,
       CAST(COALESCE(r.events_7d, 0) AS DOUBLE) AS events_7d,
       CAST(COALESCE(r.events_prev21d, 0) AS DOUBLE) AS events_prev21d,
       CAST(COALESCE(r.events_7d, 0) AS DOUBLE) * 3.0 / (CAST(COALESCE(r.events_prev21d, 0) AS DOUBLE) + 1.0)
           AS events_trend,
       CAST(COALESCE(r.sessions_7d, 0) AS DOUBLE) AS sessions_7d,
       CAST(r.sessions_28d AS DOUBLE) AS sessions_28d,
       CAST(COALESCE(r.plays_7d, 0) AS DOUBLE) AS plays_7d,
       CAST(COALESCE(r.plays_prev21d, 0) AS DOUBLE) AS plays_prev21d,
       CAST(COALESCE(r.wins_7d, 0) AS DOUBLE) AS wins_7d,
       CAST(COALESCE(r.losses_7d, 0) AS DOUBLE) AS losses_7d,
       CAST(r.failed_games_28d AS DOUBLE) AS failed_games_28d,
       CAST(COALESCE(r.bet_tokens_7d, 0) AS DOUBLE) AS bet_tokens_7d,
       CAST(COALESCE(r.game_net_7d, 0) AS DOUBLE) AS game_net_7d,
       CAST(r.game_net_28d AS DOUBLE) AS game_net_28d,
       CAST(d.events AS DOUBLE) AS last_day_events,
       CAST(d.losses - d.wins AS DOUBLE) AS last_day_losses_over_wins,
       CAST(COALESCE(l.losses_since_win, 0) AS DOUBLE) AS losses_since_win,
       CAST({as_of} - r.last_win_day AS DOUBLE) AS days_since_win,
       CAST(COALESCE(r.partner_visits_7d, 0) AS DOUBLE) AS partner_visits_7d,
       CAST(r.partner_visits_28d AS DOUBLE) AS partner_visits_28d,
       CAST(COALESCE(r.partner_tokens_7d, 0) AS DOUBLE) AS partner_tokens_7d,
       CAST(r.partner_dwell_s_28d AS DOUBLE) AS partner_dwell_s_28d,
       CAST(COALESCE(r.earned_7d, 0) AS DOUBLE) AS earned_7d,
       CAST(r.earned_28d AS DOUBLE) AS earned_28d,
       CAST(COALESCE(r.spent_7d, 0) AS DOUBLE) AS spent_7d,
       CAST(COALESCE(r.spent_prev21d, 0) AS DOUBLE) AS spent_prev21d,
       CAST(r.spent_paid_28d AS DOUBLE) AS spent_paid_28d,
       CAST(s.balance AS DOUBLE) AS balance,
       CAST(s.balance - COALESCE(w.balance, 0) AS DOUBLE) AS balance_change_7d,
       CAST(r.purchases_28d AS DOUBLE) AS purchases_28d,
       CAST(r.purchase_cash_28d AS DOUBLE) AS purchase_cash_28d,
       CAST(r.unlocks_28d AS DOUBLE) AS unlocks_28d,
       CAST(r.unlock_stage_28d AS DOUBLE) AS unlock_stage_28d,
       CAST(r.content_views_28d AS DOUBLE) AS content_views_28d,
       CAST(r.rewards_claimed_28d AS DOUBLE) AS rewards_claimed_28d,
       CAST(r.proposals_seen_28d AS DOUBLE) AS proposals_seen_28d,
       CAST(r.proposals_clicked_28d AS DOUBLE) AS proposals_clicked_28d,
       CAST(r.proposals_converted_28d AS DOUBLE) AS proposals_converted_28d,
       CAST(s.window_frequency AS DOUBLE) AS rfm_frequency,
       CAST(s.window_spent AS DOUBLE) AS rfm_monetary,
       q.risk_level AS quiz_risk_level
FROM user_state s
JOIN recent r ON r.user_id = s.user_id
LEFT JOIN last_day d ON d.user_id = s.user_id
LEFT JOIN losing l ON l.user_id = s.user_id
LEFT JOIN week_before w ON w.user_id = s.user_id
LEFT JOIN quiz q ON q.user_id = s.user_id
WHERE s.business_day = {as_of}
ORDER BY s.user_id
