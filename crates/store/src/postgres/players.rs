//! Players' profile, limits, quiz responses, activity hours and the learning loop's arms.

use deadpool_postgres::GenericClient;
use jiff::civil::Date;
use playpulse_core::ids::UserId;
use playpulse_core::protection::Limits;
use playpulse_core::quiz::RiskProfile;

use crate::columns::{to_json, ts};
use crate::{Arm, Hours, ProfileUpdate, QuizResponse, StoreError};

/// Known users are those with an accepted event, hence a state row.
const KNOWN: &str = "EXISTS (SELECT 1 FROM user_state s WHERE s.user_id = users.user_id)";

pub(super) async fn update_profile(
    client: &impl GenericClient,
    user: &UserId,
    u: &ProfileUpdate,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE users SET age_verified = COALESCE($2, age_verified), tz = COALESCE($3, tz), \
         lang = COALESCE($4, lang) WHERE user_id = $1 AND {KNOWN}"
    );
    Ok(client.execute(&sql, &[&user.as_str(), &u.age_verified, &u.tz, &u.lang]).await? == 1)
}

pub(super) async fn set_limits(
    client: &impl GenericClient,
    user: &UserId,
    limits: &Limits,
) -> Result<bool, StoreError> {
    let sql = format!("UPDATE users SET limits = $2 WHERE user_id = $1 AND {KNOWN}");
    Ok(client.execute(&sql, &[&user.as_str(), &to_json(limits)]).await? == 1)
}

pub(super) async fn save_quiz(
    tx: &impl GenericClient,
    user: &UserId,
    r: &QuizResponse,
) -> Result<(), StoreError> {
    let at = r.submitted_at.as_millisecond();
    let version = i32::try_from(r.version).map_err(|_| StoreError::Corrupt("quiz version".into()))?;
    tx.execute(
        "INSERT INTO users (user_id, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&user.as_str(), &at],
    )
    .await?;
    tx.execute(
        "INSERT INTO quiz_responses (user_id, quiz_version, answers, score, risk_profile, submitted_at_ms) \
         VALUES ($1, $2, $3::text::jsonb, $4, $5, $6)",
        &[&user.as_str(), &version, &r.answers.to_string(), &r.score, &r.profile.as_str(), &at],
    )
    .await?;
    tx.execute(
        "UPDATE users SET risk_profile = $2, risk_score = $3 WHERE user_id = $1",
        &[&user.as_str(), &r.profile.as_str(), &r.score],
    )
    .await?;
    Ok(())
}

pub(super) async fn quiz_responses(
    client: &impl GenericClient,
    user: &UserId,
    limit: usize,
) -> Result<Vec<QuizResponse>, StoreError> {
    let limit = i64::try_from(limit.min(crate::MAX_PAGE_SIZE)).expect("page sizes are small");
    let rows = client
        .query(
            "SELECT quiz_version, answers::text, score, risk_profile, submitted_at_ms FROM quiz_responses \
             WHERE user_id = $1 ORDER BY response_id DESC LIMIT $2",
            &[&user.as_str(), &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let profile: String = row.try_get(3)?;
            let answers: String = row.try_get(1)?;
            Ok(QuizResponse {
                version: u32::try_from(row.try_get::<_, i32>(0)?)
                    .map_err(|_| StoreError::Corrupt("quiz version".into()))?,
                answers: crate::columns::json(&answers)?,
                score: row.try_get(2)?,
                profile: RiskProfile::parse(&profile)
                    .ok_or_else(|| StoreError::Corrupt(format!("risk profile {profile}")))?,
                submitted_at: ts(row.try_get(4)?)?,
            })
        })
        .collect()
}

pub(super) async fn save_hours(
    client: &impl GenericClient,
    users: &[(UserId, Hours)],
    segments: &[(String, Hours)],
    as_of: Date,
) -> Result<(), StoreError> {
    let as_of = as_of.to_string();
    let ids: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    let user_hours: Vec<String> = users.iter().map(|(_, h)| to_json(h)).collect();
    client
        .execute(
            "INSERT INTO user_hours (user_id, hours, as_of) SELECT u, h, $3::text::date \
             FROM unnest($1::text[], $2::text[]) AS x(u, h) ON CONFLICT (user_id) \
             DO UPDATE SET hours = excluded.hours, as_of = excluded.as_of WHERE excluded.as_of >= user_hours.as_of",
            &[&ids, &user_hours, &as_of],
        )
        .await?;
    let names: Vec<&str> = segments.iter().map(|(s, _)| s.as_str()).collect();
    let segment_hours: Vec<String> = segments.iter().map(|(_, h)| to_json(h)).collect();
    client
        .execute(
            "INSERT INTO segment_hours (segment, hours, as_of) SELECT s, h, $3::text::date \
             FROM unnest($1::text[], $2::text[]) AS x(s, h) ON CONFLICT (segment) \
             DO UPDATE SET hours = excluded.hours, as_of = excluded.as_of \
             WHERE excluded.as_of >= segment_hours.as_of",
            &[&names, &segment_hours, &as_of],
        )
        .await?;
    Ok(())
}

pub(super) async fn segment_hours(client: &impl GenericClient) -> Result<Vec<(String, Hours)>, StoreError> {
    let rows = client.query("SELECT segment, hours FROM segment_hours ORDER BY segment", &[]).await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get(1)?;
            Ok((r.try_get(0)?, crate::columns::json(&text)?))
        })
        .collect()
}

pub(super) async fn save_arms(tx: &impl GenericClient, arms: &[Arm], as_of: Date) -> Result<(), StoreError> {
    tx.execute("DELETE FROM policy_arms", &[]).await?;
    let column = |f: fn(&Arm) -> &str| arms.iter().map(f).collect::<Vec<_>>();
    let (segments, kinds, variants) = (column(|a| &a.segment), column(|a| &a.kind), column(|a| &a.variant));
    let impressions: Vec<i64> = arms.iter().map(|a| a.impressions).collect();
    let conversions: Vec<i64> = arms.iter().map(|a| a.conversions).collect();
    tx.execute(
        "INSERT INTO policy_arms (segment, kind, variant, impressions, conversions, as_of) \
         SELECT s, k, v, i, c, $6::text::date FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], \
         $5::int8[]) AS x(s, k, v, i, c)",
        &[&segments, &kinds, &variants, &impressions, &conversions, &as_of.to_string()],
    )
    .await?;
    Ok(())
}

pub(super) async fn arms(client: &impl GenericClient) -> Result<Vec<Arm>, StoreError> {
    let rows = client
        .query(
            "SELECT segment, kind, variant, impressions, conversions FROM policy_arms \
             ORDER BY segment, kind, variant",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Arm {
                segment: r.try_get(0)?,
                kind: r.try_get(1)?,
                variant: r.try_get(2)?,
                impressions: r.try_get(3)?,
                conversions: r.try_get(4)?,
            })
        })
        .collect()
}
