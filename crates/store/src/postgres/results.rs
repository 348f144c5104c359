//! The nightly batch's results on PostgreSQL: a night is one transaction; rows travel as
//! whole columns through `unnest`.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use playpulse_core::ids::UserId;

use super::{Params, PgStore, all, exec, first, limit_of};
use crate::results::{
    APPLY_SEGMENTS, ARMS, CLEAR_ARMS, CLEAR_STAGED, MAX_MEMBERS_PAGE, Member, NEWER_ARMS, NamedHours,
    RECORD_HISTORY, SEGMENT_HOURS, SEGMENT_MEMBERS, SEGMENTS, STAGE_SEGMENTS, TRANSITIONS, newer_hours_stay,
};
use crate::rows::to_json;
use crate::{Arm, Hours, Night, Results, StoreError, StoredSegment, Transition};

/// Rows sent per statement.
const CHUNK: usize = 5_000;

const STAGE_ROWS: &str = "INSERT INTO staged_segments SELECT * FROM unnest($1::text[], $2::text[], \
     $3::int4[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::date[], \
     $11::date[])";
const USER_HOURS: &str = concat!(
    "INSERT INTO user_hours (user_id, hours, as_of) SELECT u, h, $3 FROM unnest($1::text[], $2::text[]) \
     AS x(u, h) ON CONFLICT (user_id) ",
    newer_hours_stay!("user_hours")
);
const SEGMENT_HOURS_UPSERT: &str = concat!(
    "INSERT INTO segment_hours (segment, hours, as_of) SELECT s, h, $3 FROM unnest($1::text[], $2::text[]) \
     AS x(s, h) ON CONFLICT (segment) ",
    newer_hours_stay!("segment_hours")
);
const INSERT_ARMS: &str = "INSERT INTO policy_arms (segment, kind, variant, impressions, conversions, as_of) \
     SELECT s, k, v, i, c, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[]) \
     AS x(s, k, v, i, c)";

async fn stage(tx: &impl GenericClient, rows: &[(UserId, StoredSegment)]) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let col = |f: fn(&StoredSegment) -> i64| chunk.iter().map(|(_, s)| f(s)).collect::<Vec<i64>>();
        let users: Vec<&str> = chunk.iter().map(|(u, _)| u.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|(_, s)| s.segment.as_str()).collect();
        let rules: Vec<Option<i32>> =
            chunk.iter().map(|(_, s)| s.rule_index.and_then(|r| i32::try_from(r).ok())).collect();
        let (r, f, m) = (col(|s| s.rfm.recency_days), col(|s| s.rfm.frequency), col(|s| s.rfm.monetary));
        let (pv, pt, bal) =
            (col(|s| s.rfm.partner_visits), col(|s| s.rfm.partner_tokens), col(|s| s.balance));
        let as_of: Vec<_> = chunk.iter().map(|(_, s)| s.as_of).collect();
        let since: Vec<_> = chunk.iter().map(|(_, s)| s.since).collect();
        let params: Params<'_> = &[&users, &names, &rules, &r, &f, &m, &pv, &pt, &bal, &as_of, &since];
        exec(tx, STAGE_ROWS, params).await?;
    }
    Ok(())
}

async fn save_hours(
    tx: &impl GenericClient,
    sql: &str,
    rows: &[(&str, &Hours)],
    night: &Night,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| *k).collect();
        let hours: Vec<String> = chunk.iter().map(|(_, h)| to_json(h)).collect();
        exec(tx, sql, &[&keys, &hours, &night.as_of]).await?;
    }
    Ok(())
}

async fn save_arms(tx: &impl GenericClient, arms: &[Arm], night: &Night) -> Result<(), StoreError> {
    if first::<i64>(tx, NEWER_ARMS, &[&night.as_of]).await? != Some(0) {
        return Ok(());
    }
    exec(tx, CLEAR_ARMS, &[]).await?;
    let column = |f: fn(&Arm) -> &str| arms.iter().map(f).collect::<Vec<_>>();
    let (segments, kinds, variants) =
        (column(|a| &a.segment), column(|a| a.kind.as_str()), column(|a| &a.variant));
    let impressions: Vec<i64> = arms.iter().map(|a| a.impressions).collect();
    let conversions: Vec<i64> = arms.iter().map(|a| a.conversions).collect();
    let params: Params<'_> = &[&segments, &kinds, &variants, &impressions, &conversions, &night.as_of];
    exec(tx, INSERT_ARMS, params).await?;
    Ok(())
}

#[async_trait]
impl Results for PgStore {
    async fn segments(&self) -> Result<HashMap<String, StoredSegment>, StoreError> {
        let rows: Vec<(UserId, Option<StoredSegment>)> = all(&self.pool.get().await?, SEGMENTS, &[]).await?;
        Ok(rows.into_iter().filter_map(|(user, s)| Some((user.to_string(), s?))).collect())
    }

    async fn segment_members(
        &self,
        segment: &str,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, StoredSegment)>, StoreError> {
        let (after, limit) = (after.map_or("", UserId::as_str), limit_of(limit.min(MAX_MEMBERS_PAGE)));
        let rows: Vec<Member> =
            all(&self.pool.get().await?, SEGMENT_MEMBERS, &[&segment, &after, &limit]).await?;
        Ok(rows.into_iter().map(|Member(user, s)| (user, s)).collect())
    }

    async fn save_night(&self, night: Night) -> Result<Vec<Transition>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(STAGE_SEGMENTS).await?;
        exec(&tx, CLEAR_STAGED, &[]).await?;
        stage(&tx, &night.segments).await?;
        exec(&tx, RECORD_HISTORY, &[]).await?;
        exec(&tx, APPLY_SEGMENTS, &[]).await?;
        exec(&tx, CLEAR_STAGED, &[]).await?;
        let users: Vec<(&str, &Hours)> = night.user_hours.iter().map(|(u, h)| (u.as_str(), h)).collect();
        save_hours(&tx, USER_HOURS, &users, &night).await?;
        let segments: Vec<(&str, &Hours)> =
            night.segment_hours.iter().map(|(s, h)| (s.as_str(), h)).collect();
        save_hours(&tx, SEGMENT_HOURS_UPSERT, &segments, &night).await?;
        save_arms(&tx, &night.arms, &night).await?;
        let transitions = all(&tx, TRANSITIONS, &[&night.as_of]).await?;
        tx.commit().await?;
        Ok(transitions)
    }

    async fn segment_hours(&self) -> Result<Vec<(String, Hours)>, StoreError> {
        let rows: Vec<NamedHours> = all(&self.pool.get().await?, SEGMENT_HOURS, &[]).await?;
        Ok(rows.into_iter().map(|NamedHours(segment, hours)| (segment, hours)).collect())
    }

    async fn arms(&self) -> Result<Vec<Arm>, StoreError> {
        all(&self.pool.get().await?, ARMS, &[]).await
    }
}
