//! One user: the profile (read, and changed by the operator: age verification, time zone,
//! language), the balance and the ledger.

use axum::Json;
use axum::extract::State;
use playpulse_core::ledger::UserState;
use playpulse_store::{MAX_PAGE_SIZE, ProfileUpdate, StoredEntry, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, IngestScope, ReadScope};
use crate::extract::{Input, JsonBody, PathUser, Query, unknown_user};
use crate::notifications::{PreferencesChange, PreferencesView};
use crate::player::Reader;
use crate::problem::{ApiError, Problem};

/// Ledger entries per page unless `limit` says otherwise.
const DEFAULT_LEDGER_PAGE: usize = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile, update_profile, crate::privacy::erase))
        .routes(routes!(balance))
        .routes(routes!(ledger))
        .routes(routes!(crate::scores::scores))
}

/// A user's profile and hot metrics.
#[derive(Serialize, ToSchema)]
pub struct Profile {
    pub user_id: String,
    pub balance: i64,
    /// Consecutive business days with a game play, ending today, yesterday or tomorrow (a play
    /// stamped within the allowed skew ahead); else 0.
    pub streak_days: u32,
    /// Business date (YYYY-MM-DD) of the latest game play.
    pub last_play_day: Option<String>,
    /// Latest event timestamp (RFC 3339, UTC).
    pub last_action_at: String,
    /// Earliest event timestamp (RFC 3339, UTC).
    pub first_seen_at: String,
    pub age_verified: bool,
    /// The user's own IANA time zone, when known.
    pub tz: Option<String>,
    /// Language of texts: `ko` (default) or `en`.
    pub lang: Option<String>,
    /// From the latest quiz: `High-Risk`, `Moderate-Risk` or `Low-Risk`.
    pub risk_profile: Option<&'static str>,
    pub risk_score: Option<f64>,
    /// The segment of the latest nightly batch (absent until one ran for the user).
    pub segment: Option<SegmentView>,
    /// Consents and quiet hours for notifications.
    pub notifications: PreferencesView,
}

/// A user's segment and the figures that decided it.
#[derive(Serialize, ToSchema)]
pub struct SegmentView {
    pub name: String,
    /// Business date since which the user has been in this segment.
    pub since: String,
    /// Business date of the batch that decided it.
    pub as_of: String,
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary: i64,
    pub partner_visits: i64,
    pub partner_tokens: i64,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = Profile),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn profile(
    reader: Reader<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Json<Profile>, ApiError> {
    reader.may_act_for(&user)?;
    let record = state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    Ok(Json(profile_of(&state, record)))
}

/// The profile the API shows of a stored user.
pub(crate) fn profile_of(state: &AppState, record: UserRecord) -> Profile {
    let s: &UserState = &record.state;
    let today = state.zone.day_of(state.clock.now());
    Profile {
        user_id: record.user.to_string(),
        balance: s.balance.0,
        streak_days: s.streak.current(today),
        last_play_day: s.streak.last_play_day.map(|d| d.to_string()),
        last_action_at: s.last_action.to_string(),
        first_seen_at: s.first_seen.to_string(),
        age_verified: s.age_verified,
        tz: record.tz,
        lang: record.lang,
        risk_profile: record.risk.map(|(profile, _)| profile.as_str()),
        risk_score: record.risk.map(|(_, score)| score),
        segment: record.segment.map(|g| SegmentView {
            name: g.segment,
            since: g.since.to_string(),
            as_of: g.as_of.to_string(),
            recency_days: g.rfm.recency_days,
            frequency: g.rfm.frequency,
            monetary: g.rfm.monetary,
            partner_visits: g.rfm.partner_visits,
            partner_tokens: g.rfm.partner_tokens,
        }),
        notifications: record.preferences.into(),
    }
}

/// A user's balance and where it was read from.
#[derive(Serialize, ToSchema)]
pub struct Balance {
    pub user_id: String,
    pub balance: i64,
    /// Events applied to the user so far.
    pub version: i64,
    /// `cache` (Redis) or `db` (the ledger's store).
    pub source: &'static str,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/balance", tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = Balance),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn balance(
    reader: Reader<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Json<Balance>, ApiError> {
    reader.may_act_for(&user)?;
    if let Some(cache) = &state.cache
        && let Some(cached) = cache.get(&user).await
    {
        return Ok(Json(Balance {
            user_id: user.to_string(),
            balance: cached.balance.0,
            version: cached.version,
            source: "cache",
        }));
    }
    let record = state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    if let Some(cache) = &state.cache {
        cache.put(&[(user.clone(), record.state.clone())]).await;
    }
    Ok(Json(Balance {
        user_id: user.to_string(),
        balance: record.state.balance.0,
        version: record.state.version,
        source: "db",
    }))
}

#[derive(Deserialize, IntoParams)]
struct LedgerQuery {
    /// Entries per page, 1 to 500 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl Input for LedgerQuery {
    // `limit` is the only field that can fail to parse: `cursor` is any text.
    const INVALID: &'static str = "invalid_limit";
}

/// One ledger entry.
#[derive(Serialize, ToSchema)]
pub struct Entry {
    pub event_id: String,
    pub delta: i64,
    pub reason: String,
    pub balance_after: i64,
    /// The event's timestamp (RFC 3339, UTC).
    pub ts: String,
}

/// A page of a user's ledger, newest first.
#[derive(Serialize, ToSchema)]
pub struct LedgerPage {
    pub entries: Vec<Entry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/ledger", tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id"), LedgerQuery),
    responses(
        (status = 200, body = LedgerPage),
        (status = 400, description = "bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn ledger(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
    Query(query): Query<LedgerQuery>,
) -> Result<Json<LedgerPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LEDGER_PAGE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be from 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    if state.store.user(&user).await?.is_none() {
        return Err(unknown_user(&user));
    }
    let page = state.store.ledger(&user, before, limit).await?;
    let next_cursor = (page.len() == limit).then(|| page.last().map(|e| encode_cursor(e.entry_id))).flatten();
    let entries = page.into_iter().map(Entry::from).collect();
    Ok(Json(LedgerPage { entries, next_cursor }))
}

impl From<StoredEntry> for Entry {
    fn from(e: StoredEntry) -> Self {
        Entry {
            event_id: e.event_id.to_string(),
            delta: e.delta.0,
            reason: e.reason,
            balance_after: e.balance_after.0,
            ts: e.ts.to_string(),
        }
    }
}

/// Cursors are opaque to clients: the entry id, as hex of its bytes.
fn encode_cursor(entry_id: i64) -> String {
    hex::encode(entry_id.to_be_bytes())
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let invalid = || ApiError::bad_request("invalid_cursor", "the cursor is not one this API returned");
    let bytes: [u8; 8] = hex::decode(cursor).ok().and_then(|b| b.try_into().ok()).ok_or_else(invalid)?;
    Ok(i64::from_be_bytes(bytes))
}

/// The zone's canonical IANA name (`asia/kolkata` and `Asia/Calcutta` are stored as
/// `Asia/Kolkata`), so that what is stored and shown is one spelling per zone.
fn canonical_tz(raw: &str) -> Result<String, ApiError> {
    jiff::tz::TimeZone::get(raw)
        .ok()
        .and_then(|zone| zone.primary_iana_name().or(zone.iana_name()).map(str::to_owned))
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_tz", format!("`{raw}` is not an IANA time zone"))
                .with_item(Some("tz".into()))
        })
}

/// Fields to change; the ones left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// The operator verified the user is an adult (19+).
    pub age_verified: Option<bool>,
    /// The user's IANA time zone, e.g. `Europe/Berlin`.
    pub tz: Option<String>,
    /// `ko` or `en`.
    pub lang: Option<String>,
    /// Consents to give or withdraw, quiet hours to set or remove.
    pub notifications: Option<PreferencesChange>,
}

impl Input for ProfileChange {
    const INVALID: &'static str = "invalid_body";
}

#[utoipa::path(
    patch, path = "/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id")),
    request_body = ProfileChange,
    responses(
        (status = 204, description = "changed"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not `Content-Type: application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn update_profile(
    _caller: Caller<IngestScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
    JsonBody(change): JsonBody<ProfileChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    let tz = change.tz.as_deref().map(canonical_tz).transpose()?;
    if let Some(lang) = change.lang.as_deref().filter(|l| !matches!(*l, "ko" | "en")) {
        return Err(ApiError::unprocessable(
            "invalid_lang",
            format!("`{lang}`: texts exist in `ko` and `en`"),
        )
        .with_item(Some("lang".into())));
    }
    let mut update =
        ProfileUpdate { age_verified: change.age_verified, tz, lang: change.lang, ..Default::default() };
    if let Some(preferences) = change.notifications {
        preferences.apply(&mut update, state.clock.now())?;
    }
    if !state.store.update_profile(&user, update).await? {
        return Err(unknown_user(&user));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}
