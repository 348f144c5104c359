//! The nightly batch's results on SQLite: a night is one write of the one writer.

use std::collections::HashMap;

use async_trait::async_trait;
use playpulse_core::ids::UserId;
use rusqlite::{Connection, params};

use super::{SqliteStore, all, exec, first};
use crate::results::{
    APPLY_SEGMENTS, ARMS, CLEAR_ARMS, CLEAR_STAGED, MAX_MEMBERS_PAGE, Member, NEWER_ARMS, NamedHours,
    RECORD_HISTORY, SEGMENT_HOURS, SEGMENT_MEMBERS, SEGMENTS, STAGE_SEGMENTS, TRANSITIONS, newer_hours_stay,
};
use crate::rows::to_json;
use crate::{Arm, Hours, Night, Results, StoreError, StoredSegment, Transition};

const STAGE_ROW: &str = "INSERT INTO staged_segments (user_id, segment, rule_index, recency_days, frequency, \
     monetary, partner_visits, partner_tokens, balance, as_of, since) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const USER_HOURS: &str = concat!(
    "INSERT INTO user_hours (user_id, hours, as_of) VALUES ($1, $2, $3) ON CONFLICT (user_id) ",
    newer_hours_stay!("user_hours")
);
const SEGMENT_HOURS_UPSERT: &str = concat!(
    "INSERT INTO segment_hours (segment, hours, as_of) VALUES ($1, $2, $3) ON CONFLICT (segment) ",
    newer_hours_stay!("segment_hours")
);
const INSERT_ARM: &str = "INSERT INTO policy_arms (segment, kind, variant, impressions, conversions, as_of) \
     VALUES ($1, $2, $3, $4, $5, $6)";

fn save_night(conn: &Connection, night: &Night) -> Result<Vec<Transition>, StoreError> {
    conn.execute_batch(STAGE_SEGMENTS)?;
    exec(conn, CLEAR_STAGED, [])?;
    let mut stage = conn.prepare_cached(STAGE_ROW)?;
    for (user, s) in &night.segments {
        let r = &s.rfm;
        stage.execute(params![
            user.as_str(),
            s.segment,
            s.rule_index,
            r.recency_days,
            r.frequency,
            r.monetary,
            r.partner_visits,
            r.partner_tokens,
            s.balance,
            s.as_of,
            s.since
        ])?;
    }
    exec(conn, RECORD_HISTORY, [])?;
    exec(conn, APPLY_SEGMENTS, [])?;
    exec(conn, CLEAR_STAGED, [])?;
    let mut user_hours = conn.prepare_cached(USER_HOURS)?;
    for (user, hours) in &night.user_hours {
        user_hours.execute(params![user.as_str(), to_json(hours), night.as_of])?;
    }
    let mut segment_hours = conn.prepare_cached(SEGMENT_HOURS_UPSERT)?;
    for (segment, hours) in &night.segment_hours {
        segment_hours.execute(params![segment, to_json(hours), night.as_of])?;
    }
    if first::<i64>(conn, NEWER_ARMS, [night.as_of])? == Some(0) {
        exec(conn, CLEAR_ARMS, [])?;
        let mut insert = conn.prepare_cached(INSERT_ARM)?;
        for a in &night.arms {
            insert.execute(params![
                a.segment,
                a.kind.as_str(),
                a.variant,
                a.impressions,
                a.conversions,
                night.as_of
            ])?;
        }
    }
    all(conn, TRANSITIONS, [night.as_of])
}

#[async_trait]
impl Results for SqliteStore {
    async fn segments(&self) -> Result<HashMap<String, StoredSegment>, StoreError> {
        let rows: Vec<(UserId, Option<StoredSegment>)> =
            self.readers.read(|conn| all(conn, SEGMENTS, [])).await?;
        Ok(rows.into_iter().filter_map(|(user, s)| Some((user.to_string(), s?))).collect())
    }

    async fn segment_members(
        &self,
        segment: &str,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, StoredSegment)>, StoreError> {
        let (segment, after) =
            (segment.to_owned(), after.map_or_else(String::new, |u| u.as_str().to_owned()));
        let limit = limit.min(MAX_MEMBERS_PAGE);
        let rows: Vec<Member> =
            self.readers.read(move |conn| all(conn, SEGMENT_MEMBERS, params![segment, after, limit])).await?;
        Ok(rows.into_iter().map(|Member(user, s)| (user, s)).collect())
    }

    async fn save_night(&self, night: Night) -> Result<Vec<Transition>, StoreError> {
        self.writer.write(move |conn| save_night(conn, &night)).await
    }

    async fn segment_hours(&self) -> Result<Vec<(String, Hours)>, StoreError> {
        let rows: Vec<NamedHours> = self.readers.read(|conn| all(conn, SEGMENT_HOURS, [])).await?;
        Ok(rows.into_iter().map(|NamedHours(segment, hours)| (segment, hours)).collect())
    }

    async fn arms(&self) -> Result<Vec<Arm>, StoreError> {
        self.readers.read(|conn| all(conn, ARMS, [])).await
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    /// A page is a range of the `(segment, user_id)` index: no scan of every user's segment,
    /// no sort.
    #[test]
    fn a_page_of_members_is_a_range_of_the_segment_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn, Timestamp::UNIX_EPOCH).unwrap();
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {SEGMENT_MEMBERS}")).unwrap();
        let plan: Vec<String> = explain
            .query_map(params!["Low", "", 10], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(
            plan[0].contains("USING INDEX user_segments_by_segment (segment=? AND user_id>?)"),
            "{plan:?}"
        );
    }
}
