//! What is known of a player beside the ledger: the profile the operator sets, the limits
//! the player sets, quiz responses, and the record the API shows.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::ledger::UserState;
use playpulse_core::limits::Locked;
use playpulse_core::notify::policy::{Media, Preferences, QuietHours};
use playpulse_core::protection::Limits;
use playpulse_core::quiz::RiskProfile;

use crate::StoreError;
use crate::ledger::state_columns;
use crate::results::{Hours, StoredSegment, segment_columns};
use crate::rows::{Cells, FromCells, instant, json};

/// A user as the API shows them.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: UserId,
    pub state: UserState,
    pub tz: Option<String>,
    /// Language tag for texts (`ko`, `en`).
    pub lang: Option<String>,
    /// The latest quiz result: profile and score.
    pub risk: Option<(RiskProfile, f64)>,
    /// The segment of the latest batch, if one has run since the user appeared.
    pub segment: Option<StoredSegment>,
    /// The user's activity by business hour over the latest batch's window.
    pub hours: Option<Hours>,
    /// Consents and quiet hours for notifications.
    pub preferences: Preferences,
    /// The latest night's churn probability, if the churn model scored the user.
    pub churn_risk: Option<f64>,
    /// Whether the latest night's value forecast put the user among the whale candidates.
    pub whale_candidate: bool,
}

/// A change to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub age_verified: Option<bool>,
    pub tz: Option<String>,
    pub lang: Option<String>,
    /// Consent to marketing notifications given (kept with its first time) or withdrawn.
    pub marketing: Option<bool>,
    /// The same for marketing between 21:00 and 08:00.
    pub night_marketing: Option<bool>,
    /// New quiet hours; `Some(None)` removes them.
    pub quiet_hours: Option<Option<QuietHours>>,
    /// The media marketing consent covers from now; `Some(None)`: every one.
    pub marketing_channels: Option<Option<Media>>,
    /// When the change is made (the time a consent is recorded as given).
    pub at: Option<Timestamp>,
}

/// One submitted and scored questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct QuizResponse {
    pub version: u32,
    /// The answers as submitted (item id → value).
    pub answers: serde_json::Value,
    pub score: f64,
    pub profile: RiskProfile,
    pub submitted_at: Timestamp,
}

/// How a change of limits ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitsChanged {
    /// The new limits hold from the next event on.
    Changed,
    /// No event of the user was ever accepted.
    UnknownUser,
    /// Refused: it would end a running cool-off or exclusion early. Nothing changed.
    Locked(Locked),
}

/// Players' profiles, limits and quiz responses.
#[async_trait]
pub trait Players: Send + Sync {
    /// A user's profile, or `None` if no event of theirs was ever accepted.
    async fn user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Changes a user's profile; `false` if no event of the user was ever accepted.
    async fn update_profile(&self, user: &UserId, update: ProfileUpdate) -> Result<bool, StoreError>;

    /// Replaces a user's limits (the ledger enforces them from the next event on), unless
    /// that would shorten a running cool-off or exclusion at `now`
    /// ([`playpulse_core::limits::replace`]); checked and written in one transaction.
    async fn change_limits(
        &self,
        user: &UserId,
        wanted: Limits,
        now: Timestamp,
    ) -> Result<LimitsChanged, StoreError>;

    /// Stores a quiz response and makes its profile the user's current one; `false` (and
    /// nothing stored) if no event of the user was ever accepted.
    async fn save_quiz(&self, user: &UserId, response: QuizResponse) -> Result<bool, StoreError>;

    /// A user's quiz responses, newest first.
    async fn quiz_responses(&self, user: &UserId, limit: usize) -> Result<Vec<QuizResponse>, StoreError>;

    /// Every user's current risk profile (users who never took the quiz are left out).
    async fn risk_profiles(&self) -> Result<Vec<(UserId, String)>, StoreError>;
}

/// Known users are those with an accepted event, hence a state row.
macro_rules! known {
    () => {
        "EXISTS (SELECT 1 FROM user_state s WHERE s.user_id = users.user_id)"
    };
}

pub(crate) const USER: &str = concat!(
    "SELECT u.user_id, u.tz, u.lang, u.risk_profile, u.risk_score, ",
    state_columns!(),
    ", ",
    segment_columns!(),
    ", h.hours, u.marketing_consent_at_ms, u.night_consent_at_ms, u.quiet_start_min, u.quiet_end_min, \
     u.marketing_channels, c.score, w.score FROM users u JOIN user_state s ON s.user_id = u.user_id \
     LEFT JOIN balances b ON b.user_id = u.user_id LEFT JOIN user_segments g ON g.user_id = u.user_id \
     LEFT JOIN user_hours h ON h.user_id = u.user_id \
     LEFT JOIN user_scores c ON c.user_id = u.user_id AND c.model = 'churn' \
     LEFT JOIN user_scores w ON w.user_id = u.user_id AND w.model = 'whale_candidate' \
     WHERE u.user_id = $1"
);
pub(crate) const UPDATE_PROFILE: &str = concat!(
    "UPDATE users SET age_verified = COALESCE($1, age_verified), tz = COALESCE($2, tz), \
     lang = COALESCE($3, lang), \
     marketing_consent_at_ms = CASE $4 WHEN 'grant' THEN COALESCE(marketing_consent_at_ms, $5) \
     WHEN 'withdraw' THEN NULL ELSE marketing_consent_at_ms END, \
     night_consent_at_ms = CASE $6 WHEN 'grant' THEN COALESCE(night_consent_at_ms, $5) \
     WHEN 'withdraw' THEN NULL ELSE night_consent_at_ms END, \
     quiet_start_min = CASE $7 WHEN 'set' THEN $8 ELSE quiet_start_min END, \
     quiet_end_min = CASE $7 WHEN 'set' THEN $9 ELSE quiet_end_min END, \
     marketing_channels = CASE $10 WHEN 'set' THEN $11 ELSE marketing_channels END \
     WHERE user_id = $12 AND ",
    known!()
);

/// The parameters of [`UPDATE_PROFILE`] after the first three: the consent changes, when,
/// the quiet hours, and the media.
pub(crate) type PreferenceParams =
    (&'static str, i64, &'static str, &'static str, Option<i64>, Option<i64>, &'static str, Option<String>);

pub(crate) fn preference_params(u: &ProfileUpdate) -> PreferenceParams {
    let consent = |change: Option<bool>| match change {
        Some(true) => "grant",
        Some(false) => "withdraw",
        None => "keep",
    };
    let at = u.at.map_or(0, Timestamp::as_millisecond);
    let minutes = u.quiet_hours.flatten().map(|q| q.minutes());
    let quiet = if u.quiet_hours.is_some() { "set" } else { "keep" };
    let media = if u.marketing_channels.is_some() { "set" } else { "keep" };
    let names = u.marketing_channels.flatten().map(|m| m.names().join(","));
    let (start, end) = (minutes.map(|m| m.0), minutes.map(|m| m.1));
    (consent(u.marketing), at, consent(u.night_marketing), quiet, start, end, media, names)
}
/// The limits of a known user (PostgreSQL appends `FOR UPDATE`).
macro_rules! limits_of_known {
    () => {
        concat!("SELECT limits FROM users WHERE user_id = $1 AND ", $crate::players::known!())
    };
}
pub(crate) use limits_of_known;
pub(crate) const LIMITS: &str = limits_of_known!();
pub(crate) const SET_LIMITS: &str = "UPDATE users SET limits = $1 WHERE user_id = $2";
pub(crate) const KNOWN: &str = "SELECT COUNT(*) FROM user_state WHERE user_id = $1";
pub(crate) const INSERT_QUIZ: &str = "INSERT INTO quiz_responses \
     (user_id, quiz_version, answers, score, risk_profile, submitted_at_ms) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const SET_RISK: &str = "UPDATE users SET risk_profile = $1, risk_score = $2 WHERE user_id = $3";
pub(crate) const QUIZ_RESPONSES: &str = "SELECT quiz_version, answers, score, risk_profile, submitted_at_ms \
     FROM quiz_responses WHERE user_id = $1 ORDER BY response_id DESC LIMIT $2";

pub(crate) const RISK_PROFILES: &str =
    "SELECT user_id, risk_profile FROM users WHERE risk_profile IS NOT NULL ORDER BY user_id";

impl FromCells for UserRecord {
    const WIDTH: usize = 13 + UserState::WIDTH + Option::<StoredSegment>::WIDTH;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let hours_at = at + 5 + UserState::WIDTH + Option::<StoredSegment>::WIDTH;
        let hours: Option<String> = row.get(hours_at)?;
        Ok(UserRecord {
            user: UserId::from_cells(row, at)?,
            tz: row.get(at + 1)?,
            lang: row.get(at + 2)?,
            risk: risk(row.get(at + 3)?, row.get(at + 4)?)?,
            state: UserState::from_cells(row, at + 5)?,
            segment: Option::<StoredSegment>::from_cells(row, at + 5 + UserState::WIDTH)?,
            hours: hours.map(|h| json(&h)).transpose()?,
            preferences: Preferences {
                marketing_since: row.get::<Option<i64>>(hours_at + 1)?.map(instant).transpose()?,
                night_marketing_since: row.get::<Option<i64>>(hours_at + 2)?.map(instant).transpose()?,
                quiet_hours: match (
                    row.get::<Option<i64>>(hours_at + 3)?,
                    row.get::<Option<i64>>(hours_at + 4)?,
                ) {
                    (Some(start), Some(end)) => QuietHours::from_minutes(start, end),
                    _ => None,
                },
                marketing_channels: row
                    .get::<Option<String>>(hours_at + 5)?
                    .map(|names| {
                        Media::parse(names.split(',').filter(|n| !n.is_empty()))
                            .map_err(|bad| StoreError::Corrupt(format!("marketing channel {bad}")))
                    })
                    .transpose()?,
            },
            churn_risk: row.get(hours_at + 6)?,
            whale_candidate: row.get::<Option<f64>>(hours_at + 7)?.is_some(),
        })
    }
}
pub(crate) use known;

fn risk(profile: Option<String>, score: Option<f64>) -> Result<Option<(RiskProfile, f64)>, StoreError> {
    match (profile, score) {
        (Some(p), Some(s)) => Ok(Some((profile_of(&p)?, s))),
        _ => Ok(None),
    }
}

fn profile_of(text: &str) -> Result<RiskProfile, StoreError> {
    RiskProfile::parse(text).ok_or_else(|| StoreError::Corrupt(format!("risk profile {text}")))
}

impl FromCells for QuizResponse {
    const WIDTH: usize = 5;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let version: i32 = row.get(at)?;
        Ok(QuizResponse {
            version: u32::try_from(version)
                .map_err(|_| StoreError::Corrupt(format!("quiz version {version}")))?,
            answers: row.get(at + 1)?,
            score: row.get(at + 2)?,
            profile: profile_of(&row.get::<String>(at + 3)?)?,
            submitted_at: instant(row.get(at + 4)?)?,
        })
    }
}
