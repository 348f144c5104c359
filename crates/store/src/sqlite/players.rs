//! Players' profile, limits, quiz responses, activity hours and the learning loop's arms.

use jiff::civil::Date;
use playpulse_core::ids::UserId;
use playpulse_core::protection::Limits;
use playpulse_core::quiz::RiskProfile;
use rusqlite::{Connection, params};

use crate::columns::{json, to_json, ts};
use crate::{Arm, Hours, ProfileUpdate, QuizResponse, StoreError};

/// Known users are those with an accepted event, hence a state row.
const KNOWN: &str = "EXISTS (SELECT 1 FROM user_state s WHERE s.user_id = users.user_id)";

pub(super) fn update_profile(
    conn: &Connection,
    user: &UserId,
    u: &ProfileUpdate,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE users SET age_verified = COALESCE(?2, age_verified), tz = COALESCE(?3, tz), \
         lang = COALESCE(?4, lang) WHERE user_id = ?1 AND {KNOWN}"
    );
    Ok(conn.prepare_cached(&sql)?.execute(params![user.as_str(), u.age_verified, u.tz, u.lang])? == 1)
}

pub(super) fn set_limits(conn: &Connection, user: &UserId, limits: &Limits) -> Result<bool, StoreError> {
    let sql = format!("UPDATE users SET limits = ?2 WHERE user_id = ?1 AND {KNOWN}");
    Ok(conn.prepare_cached(&sql)?.execute(params![user.as_str(), to_json(limits)])? == 1)
}

pub(super) fn save_quiz(conn: &Connection, user: &UserId, r: &QuizResponse) -> Result<(), StoreError> {
    let at = r.submitted_at.as_millisecond();
    conn.prepare_cached("INSERT INTO users (user_id, created_at_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?
        .execute(params![user.as_str(), at])?;
    conn.prepare_cached(
        "INSERT INTO quiz_responses (user_id, quiz_version, answers, score, risk_profile, submitted_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        user.as_str(),
        r.version,
        r.answers.to_string(),
        r.score,
        r.profile.as_str(),
        at
    ])?;
    conn.prepare_cached("UPDATE users SET risk_profile = ?2, risk_score = ?3 WHERE user_id = ?1")?
        .execute(params![user.as_str(), r.profile.as_str(), r.score])?;
    Ok(())
}

pub(super) fn quiz_responses(
    conn: &Connection,
    user: &UserId,
    limit: usize,
) -> Result<Vec<QuizResponse>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT quiz_version, answers, score, risk_profile, submitted_at_ms FROM quiz_responses \
         WHERE user_id = ?1 ORDER BY response_id DESC LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![user.as_str(), limit.min(crate::MAX_PAGE_SIZE)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let profile: String = row.get(3)?;
        out.push(QuizResponse {
            version: row.get(0)?,
            answers: json(&row.get::<_, String>(1)?)?,
            score: row.get(2)?,
            profile: RiskProfile::parse(&profile)
                .ok_or_else(|| StoreError::Corrupt(format!("risk profile {profile}")))?,
            submitted_at: ts(row.get(4)?)?,
        });
    }
    Ok(out)
}

pub(super) fn save_hours(
    conn: &Connection,
    users: &[(UserId, Hours)],
    segments: &[(String, Hours)],
    as_of: Date,
) -> Result<(), StoreError> {
    let as_of = as_of.to_string();
    let mut user = conn.prepare_cached(
        "INSERT INTO user_hours (user_id, hours, as_of) VALUES (?1, ?2, ?3) ON CONFLICT (user_id) \
         DO UPDATE SET hours = excluded.hours, as_of = excluded.as_of WHERE excluded.as_of >= user_hours.as_of",
    )?;
    for (id, hours) in users {
        user.execute(params![id.as_str(), to_json(hours), as_of])?;
    }
    let mut segment = conn.prepare_cached(
        "INSERT INTO segment_hours (segment, hours, as_of) VALUES (?1, ?2, ?3) ON CONFLICT (segment) \
         DO UPDATE SET hours = excluded.hours, as_of = excluded.as_of WHERE excluded.as_of >= segment_hours.as_of",
    )?;
    for (name, hours) in segments {
        segment.execute(params![name, to_json(hours), as_of])?;
    }
    Ok(())
}

pub(super) fn segment_hours(conn: &Connection) -> Result<Vec<(String, Hours)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT segment, hours FROM segment_hours ORDER BY segment")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (segment, text) = row?;
        out.push((segment, json(&text)?));
    }
    Ok(out)
}

pub(super) fn save_arms(conn: &Connection, arms: &[Arm], as_of: Date) -> Result<(), StoreError> {
    conn.execute("DELETE FROM policy_arms", [])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO policy_arms (segment, kind, variant, impressions, conversions, as_of) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for a in arms {
        insert.execute(params![
            a.segment,
            a.kind,
            a.variant,
            a.impressions,
            a.conversions,
            as_of.to_string()
        ])?;
    }
    Ok(())
}

pub(super) fn arms(conn: &Connection) -> Result<Vec<Arm>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT segment, kind, variant, impressions, conversions FROM policy_arms ORDER BY segment, kind, variant",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Arm {
            segment: r.get(0)?,
            kind: r.get(1)?,
            variant: r.get(2)?,
            impressions: r.get(3)?,
            conversions: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
