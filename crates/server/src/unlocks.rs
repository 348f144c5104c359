//! A user's content: what they may see, hold and unlock next (`GET /v1/users/{id}/content`),
//! and the unlock itself, which spends through the ledger in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use playpulse_core::content::{ContentId, ContentItem, Ladder, UnlockFacts, UnlockRefusal, check_unlock};
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::tokens::Tokens;
use playpulse_store::{ContentUnlock, UnlockOutcome, UnlockRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, IngestScope, ReadScope};
use crate::content::{ContentView, content_id, unknown_content};
use crate::events::detached;
use crate::extract::{Input, JsonBody, Path, PathUser, unknown_user};
use crate::player::Reader;
use crate::problem::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(user_content)).routes(routes!(unlock))
}

/// One item as a user sees it.
#[derive(Serialize, ToSchema)]
pub struct UserItem {
    #[serde(flatten)]
    pub item: ContentView,
    pub unlocked: bool,
    /// When it was unlocked (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlocked_at: Option<String>,
    /// Whether an unlock would pass the catalog's rules and the balance now.
    pub unlockable: bool,
    /// Why not: `previous_stage_required`, `segment_level_required` or `insufficient_balance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<&'static str>,
}

/// The next item of a series: its lowest stage the user does not hold.
#[derive(Serialize, ToSchema)]
pub struct NextItem {
    pub series: String,
    pub content_id: String,
    pub stage: u32,
    pub cost: i64,
    pub unlockable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct UserContent {
    pub user_id: String,
    pub balance: i64,
    /// Live items the user may see (never an adult item before age verification), and the
    /// retired ones they hold; by series and stage.
    pub items: Vec<UserItem>,
    /// Per series, what to unlock next and for how much.
    pub next: Vec<NextItem>,
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/content", tag = "content",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = UserContent),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn user_content(
    reader: Reader<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Json<UserContent>, ApiError> {
    reader.may_act_for(&user)?;
    let record = state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    let (catalog, held) = (state.store.content_items().await?, state.store.unlocks_of(&user).await?);
    let held: HashMap<_, _> = held.into_iter().map(|u| (u.content_id.clone(), u)).collect();
    let held_stages: HashSet<(&str, u32)> = (catalog.iter())
        .filter(|c| held.contains_key(&c.item.content_id))
        .map(|c| (c.item.series.as_str(), c.item.stage))
        .collect();
    let ladder = Ladder::new(state.product.segments.clone());
    let verified = record.state.age_verified;
    let facts_of = |item: &ContentItem| UnlockFacts {
        age_verified: verified,
        segment_rank: ladder.rank(record.segment.as_ref().map(|s| s.segment.as_str())),
        required_rank: item.required_segment.as_deref().map(|s| ladder.rank(Some(s))),
        previous_unlocked: item.stage == 1 || held_stages.contains(&(item.series.as_str(), item.stage - 1)),
        already_unlocked: held.contains_key(&item.content_id),
        balance: record.state.balance,
    };
    let mut items = Vec::new();
    let mut next: BTreeMap<String, NextItem> = BTreeMap::new();
    for stored in &catalog {
        let item = &stored.item;
        let holds = held.get(&item.content_id);
        if !item.visible_to(verified) || (stored.retired && holds.is_none()) {
            continue;
        }
        let verdict = check_unlock(item, &facts_of(item));
        let blocked_by = verdict.as_ref().err().filter(|_| holds.is_none()).map(UnlockRefusal::code);
        if holds.is_none() && !stored.retired && !next.contains_key(&item.series) {
            let entry = NextItem {
                series: item.series.clone(),
                content_id: item.content_id.to_string(),
                stage: item.stage,
                cost: item.cost.0,
                unlockable: verdict.is_ok(),
                blocked_by,
            };
            next.insert(item.series.clone(), entry);
        }
        items.push(UserItem {
            item: stored.clone().into(),
            unlocked: holds.is_some(),
            unlocked_at: holds.map(|u| u.awarded_at.to_string()),
            unlockable: verdict.is_ok(),
            blocked_by,
        });
    }
    Ok(Json(UserContent {
        user_id: user.to_string(),
        balance: record.state.balance.0,
        items,
        next: next.into_values().collect(),
    }))
}

/// An unlock request: its id makes it idempotent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockBody {
    /// A UUID the client chooses; a retry with the same id answers the original unlock. It
    /// becomes the spend's event id.
    pub request_id: String,
    /// When it happened (RFC 3339; default: now), for imports of history. Limits and
    /// cool-offs are judged on the server's clock whatever it says.
    pub ts: Option<String>,
}

impl Input for UnlockBody {
    const INVALID: &'static str = "invalid_body";
}

#[derive(Serialize, ToSchema)]
pub struct Unlocked {
    pub user_id: String,
    pub content_id: String,
    pub request_id: String,
    /// Tokens it cost.
    pub tokens: i64,
    /// RFC 3339.
    pub unlocked_at: String,
    /// The user's balance after the unlock.
    pub balance: i64,
    /// True when this request id had already unlocked the item: nothing changed now.
    pub replayed: bool,
}

#[utoipa::path(
    post, path = "/v1/users/{user_id}/content/{content_id}/unlock", tag = "content",
    params(
        ("user_id" = String, Path, description = "the operator's user id"),
        ("content_id" = String, Path, description = "the item to unlock"),
    ),
    request_body = UnlockBody,
    responses(
        (status = 200, description = "unlocked now, or earlier by this request id (`replayed`)", body = Unlocked),
        (status = 404, description = "`unknown_content`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_unlocked` (by another request), `request_id_conflict`",
         body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "refused: `age_verification_required`, `previous_stage_required`, \
         `segment_level_required`, `insufficient_balance`, `daily_limit_reached`, `cooling_off`, `self_excluded`, \
         `invalid_request_id`, `invalid_timestamp`, `timestamp_in_future`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn unlock(
    _caller: Caller<IngestScope>,
    State(state): State<AppState>,
    Path((raw_user, raw_content)): Path<(String, String)>,
    JsonBody(body): JsonBody<UnlockBody>,
) -> Result<Json<Unlocked>, ApiError> {
    let user =
        UserId::parse(&raw_user).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
    let content = content_id(&raw_content)?;
    let request = EventId::parse(&body.request_id).ok_or_else(|| {
        ApiError::unprocessable("invalid_request_id", "`request_id` must be a UUID")
            .with_item(Some("request_id".into()))
    })?;
    Ok(Json(unlock_content(&state, user, content, request, body.ts.as_deref()).await?))
}

/// Unlocks an item for a user, idempotent by `request`: the one path of HTTP and the demo.
pub async fn unlock_content(
    state: &AppState,
    user: UserId,
    content: ContentId,
    request: EventId,
    ts: Option<&str>,
) -> Result<Unlocked, ApiError> {
    let now = state.clock.now();
    let ts = match ts {
        None => now,
        Some(text) => text.parse::<Timestamp>().map_err(|e| {
            ApiError::unprocessable("invalid_timestamp", format!("`ts`: {e}")).with_item(Some("ts".into()))
        })?,
    };
    let ladder = Ladder::new(state.product.segments.clone());
    let attempt = UnlockRequest { user: user.clone(), content_id: content.clone(), request, ts, now, ladder };
    let task = state.clone();
    let outcome = detached(async move {
        let outcome = task.store.unlock_content(attempt).await?;
        if let UnlockOutcome::Unlocked { state: s, unlock } = &outcome {
            // The unlock's SPEND_CYBER_TOKENS event (sink "unlock") is its one ledger entry.
            if unlock.tokens.0 > 0 {
                crate::monitoring::record_flows(&[("spend:unlock", Tokens(-unlock.tokens.0))]);
            }
            if let Some(cache) = &task.cache {
                cache.put(&[(unlock.user.clone(), (**s).clone())]).await;
            }
        }
        Ok(outcome)
    })
    .await?;
    let view = |u: ContentUnlock, balance: i64, replayed: bool| Unlocked {
        user_id: u.user.to_string(),
        content_id: u.content_id.to_string(),
        request_id: request.to_string(),
        tokens: u.tokens.0,
        unlocked_at: u.awarded_at.to_string(),
        balance,
        replayed,
    };
    match outcome {
        UnlockOutcome::Unlocked { unlock, state: s } => {
            metrics::counter!("playpulse_content_unlocks_total", "result" => "unlocked").increment(1);
            Ok(view(unlock, s.balance.0, false))
        }
        UnlockOutcome::Replayed(unlock) => {
            let balance = state.store.user(&user).await?.map_or(0, |r| r.state.balance.0);
            Ok(view(unlock, balance, true))
        }
        UnlockOutcome::UnknownContent => Err(unknown_content(&content)),
        UnlockOutcome::Refused { item, refusal } => {
            metrics::counter!("playpulse_content_unlocks_total", "result" => "refused").increment(1);
            let status = match refusal {
                UnlockRefusal::AlreadyUnlocked | UnlockRefusal::RequestIdConflict => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Err(ApiError::new(status, refusal.code(), refusal.message(&item)))
        }
    }
}
