//! What the nightly batch derives and the online path reads: users' segments and their
//! history, activity hours, the learning loop's arms. A night's results are stored together
//! or not at all, and never over a newer night's.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::civil::Date;
use playpulse_core::ids::UserId;
use playpulse_core::proposal::ProposalKind;
use playpulse_core::segments::Rfm;

use crate::StoreError;
use crate::rows::{Cells, FromCells, json, required};

/// Events per hour of the business day, 00 to 23.
pub type Hours = [i64; 24];

/// Most members one call of [`Results::segment_members`] returns, whatever the limit asked.
pub const MAX_MEMBERS_PAGE: usize = 2_000;

/// A user's segment as a batch decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSegment {
    pub segment: String,
    /// Position of the matching rule; `None` for the fallback.
    pub rule_index: Option<i64>,
    pub rfm: Rfm,
    pub balance: i64,
    /// Business day of the batch that decided it.
    pub as_of: Date,
    /// Business day since which the user has been in this segment.
    pub since: Date,
}

/// What the learning loop knows of one proposal variant in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    pub segment: String,
    /// The proposal type, e.g. `MID_STAKE`.
    pub kind: ProposalKind,
    pub variant: String,
    pub impressions: i64,
    pub conversions: i64,
}

/// Everything one night of the batch stores.
#[derive(Debug, Clone)]
pub struct Night {
    /// The business day the night ran for; every row below is as of it.
    pub as_of: Date,
    pub segments: Vec<(UserId, StoredSegment)>,
    pub user_hours: Vec<(UserId, Hours)>,
    pub segment_hours: Vec<(String, Hours)>,
    pub arms: Vec<Arm>,
}

/// A user's move between segments, as the history recorded it for one night.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Transition {
    pub user: UserId,
    /// `None` for a user who had no segment before.
    pub from: Option<String>,
    pub to: String,
}

/// The nightly batch's results.
#[async_trait]
pub trait Results: Send + Sync {
    /// Every user's current segment.
    async fn segments(&self) -> Result<HashMap<String, StoredSegment>, StoreError>;

    /// The users in `segment` now, in user-id order, strictly after `after` when given: at
    /// most `limit`, and never more than [`MAX_MEMBERS_PAGE`]. Keyset pages over the
    /// `(segment, user_id)` index, so a page deep in a large segment costs what the first
    /// does. A segment no user is in, or no rule names, has no members.
    async fn segment_members(
        &self,
        segment: &str,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, StoredSegment)>, StoreError>;

    /// Stores a night in one transaction: each user's segment unless a newer night decided
    /// it, the history of every change against the segment stored before, activity hours
    /// (same rule), and the arms unless a newer night's are stored. Returns the night's
    /// transitions as the history holds them: the same on a re-run, and none for users a
    /// newer night had already decided.
    async fn save_night(&self, night: Night) -> Result<Vec<Transition>, StoreError>;

    /// Every segment's activity by business hour (the sum of its users').
    async fn segment_hours(&self) -> Result<Vec<(String, Hours)>, StoreError>;

    /// Every arm of the learning loop.
    async fn arms(&self) -> Result<Vec<Arm>, StoreError>;
}

/// A stored segment: `user_segments g`, all NULL when a LEFT JOIN found none.
macro_rules! segment_columns {
    () => {
        "g.segment, g.rule_index, g.recency_days, g.frequency, g.monetary, g.partner_visits, \
         g.partner_tokens, g.balance, g.as_of, g.since"
    };
}
pub(crate) use segment_columns;

pub(crate) const SEGMENTS: &str = concat!("SELECT g.user_id, ", segment_columns!(), " FROM user_segments g");
/// One page of a segment's members (`$2 = ''` for the first: every user id is longer).
pub(crate) const SEGMENT_MEMBERS: &str = concat!(
    "SELECT g.user_id, ",
    segment_columns!(),
    " FROM user_segments g WHERE g.segment = $1 AND g.user_id > $2 ORDER BY g.user_id LIMIT $3"
);

/// Each backend fills `staged_segments` with a night's rows its fastest way; the rule that
/// applies them is these statements, the same text on both.
pub(crate) const STAGE_SEGMENTS: &str =
    "CREATE TEMP TABLE IF NOT EXISTS staged_segments AS SELECT * FROM user_segments WHERE false";
pub(crate) const CLEAR_STAGED: &str = "DELETE FROM staged_segments";
/// Changes against the stored segment, for users no newer night decided. Reads the segments
/// as they were before [`APPLY_SEGMENTS`], so it runs first.
pub(crate) const RECORD_HISTORY: &str = "INSERT INTO segment_history (as_of, user_id, segment, previous) \
     SELECT i.as_of, i.user_id, i.segment, g.segment FROM staged_segments i \
     LEFT JOIN user_segments g ON g.user_id = i.user_id \
     WHERE (g.as_of IS NULL OR g.as_of <= i.as_of) AND g.segment IS DISTINCT FROM i.segment \
     ON CONFLICT DO NOTHING";
/// A newer night is never overwritten. `WHERE true` keeps SQLite's parser from reading the
/// upsert's `ON` as a join's.
pub(crate) const APPLY_SEGMENTS: &str = "INSERT INTO user_segments SELECT * FROM staged_segments WHERE true \
     ON CONFLICT (user_id) DO UPDATE SET segment = excluded.segment, rule_index = excluded.rule_index, \
     recency_days = excluded.recency_days, frequency = excluded.frequency, monetary = excluded.monetary, \
     partner_visits = excluded.partner_visits, partner_tokens = excluded.partner_tokens, \
     balance = excluded.balance, as_of = excluded.as_of, since = excluded.since \
     WHERE user_segments.as_of <= excluded.as_of";
pub(crate) const TRANSITIONS: &str =
    "SELECT user_id, previous, segment FROM segment_history WHERE as_of = $1 ORDER BY user_id";

/// Whether a newer night's arms are stored; if so this night's are not.
pub(crate) const NEWER_ARMS: &str = "SELECT COUNT(*) FROM policy_arms WHERE as_of > $1";
pub(crate) const CLEAR_ARMS: &str = "DELETE FROM policy_arms";
pub(crate) const ARMS: &str = "SELECT segment, kind, variant, impressions, conversions FROM policy_arms \
     ORDER BY segment, kind, variant";
pub(crate) const SEGMENT_HOURS: &str = "SELECT segment, hours FROM segment_hours ORDER BY segment";

/// `UPDATE` clause of the hours upserts: a newer night's hours stay.
macro_rules! newer_hours_stay {
    ($table:literal) => {
        concat!(
            "DO UPDATE SET hours = excluded.hours, as_of = excluded.as_of WHERE excluded.as_of >= ",
            $table,
            ".as_of"
        )
    };
}
pub(crate) use newer_hours_stay;

impl FromCells for Option<StoredSegment> {
    const WIDTH: usize = 10;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let Some(segment) = row.get::<Option<String>>(at)? else { return Ok(None) };
        let rule_index: Option<i32> = row.get(at + 1)?;
        let figure = |i: usize| row.get::<Option<i64>>(at + i).map(Option::unwrap_or_default);
        Ok(Some(StoredSegment {
            segment,
            rule_index: rule_index.map(i64::from),
            rfm: Rfm {
                recency_days: figure(2)?,
                frequency: figure(3)?,
                monetary: figure(4)?,
                partner_visits: figure(5)?,
                partner_tokens: figure(6)?,
            },
            balance: figure(7)?,
            as_of: required(row.get(at + 8)?, "segment")?,
            since: required(row.get(at + 9)?, "segment")?,
        }))
    }
}

/// A row of [`SEGMENT_MEMBERS`]: a user and their segment, which no join leaves NULL.
pub(crate) struct Member(pub UserId, pub StoredSegment);

impl FromCells for Member {
    const WIDTH: usize = UserId::WIDTH + <Option<StoredSegment>>::WIDTH;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let user = UserId::from_cells(row, at)?;
        let segment = Option::<StoredSegment>::from_cells(row, at + UserId::WIDTH)?
            .ok_or_else(|| StoreError::Corrupt(format!("segment of {user}")))?;
        Ok(Member(user, segment))
    }
}

impl FromCells for Transition {
    const WIDTH: usize = 3;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(Transition { user: UserId::from_cells(row, at)?, from: row.get(at + 1)?, to: row.get(at + 2)? })
    }
}

impl FromCells for Arm {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let kind: String = row.get(at + 1)?;
        Ok(Arm {
            segment: row.get(at)?,
            kind: ProposalKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("proposal kind {kind}")))?,
            variant: row.get(at + 2)?,
            impressions: row.get(at + 3)?,
            conversions: row.get(at + 4)?,
        })
    }
}

/// `(segment, hours)` as stored: hours as a JSON array of 24 counts.
pub(crate) struct NamedHours(pub String, pub Hours);

impl FromCells for NamedHours {
    const WIDTH: usize = 2;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok(NamedHours(row.get(at)?, json(&row.get::<String>(at + 1)?)?))
    }
}
