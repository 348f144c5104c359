//! Notifications as delivered: a user's list with each one's state, an admin's retry of a
//! dead one, the devices a user registered for push, and the consents and quiet hours the
//! profile shows and `PATCH /v1/users/{id}` changes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use playpulse_core::notify::check_device;
use playpulse_core::notify::policy::{Media, Medium, Preferences, QuietHours};
use playpulse_store::{DeliveryState, Device, MAX_PAGE_SIZE, ProfileUpdate, Retried, StoredNotification};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{AdminScope, Caller, IngestScope, ReadScope};
use crate::extract::{Input, JsonBody, Path, PathUser, Query, unknown_user};
use crate::problem::{ApiError, Problem};

/// A user's consents and quiet hours, as the profile shows them.
#[derive(Serialize, ToSchema)]
pub struct PreferencesView {
    /// Agrees to marketing notifications (invitations to play or spend).
    pub marketing: bool,
    /// Since when (RFC 3339, UTC): the first time given, kept until withdrawn.
    pub marketing_since: Option<String>,
    /// Agrees to them between 21:00 and 08:00 in their own zone too.
    pub night_marketing: bool,
    pub night_marketing_since: Option<String>,
    /// The media marketing may reach them by: `push`, `email`, `webhook` (all three unless
    /// they chose).
    pub marketing_channels: Vec<String>,
    /// `HH:MM-HH:MM` in the user's zone: nothing is sent then; it waits for the end.
    pub quiet_hours: Option<String>,
}

impl From<Preferences> for PreferencesView {
    fn from(p: Preferences) -> Self {
        Self {
            marketing: p.marketing_since.is_some(),
            marketing_since: p.marketing_since.map(|t| t.to_string()),
            night_marketing: p.night_marketing_since.is_some(),
            night_marketing_since: p.night_marketing_since.map(|t| t.to_string()),
            marketing_channels: Medium::ALL
                .into_iter()
                .filter(|m| p.allows_marketing_by(*m))
                .map(|m| m.name().to_owned())
                .collect(),
            quiet_hours: p.quiet_hours.map(|q| q.to_string()),
        }
    }
}

/// Consents to give or withdraw and quiet hours to set; what is left out stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesChange {
    pub marketing: Option<bool>,
    pub night_marketing: Option<bool>,
    /// The media marketing may reach the user by, of `push`, `email` and `webhook` (Korea's
    /// Network Act asks consent per medium); `[]`: none.
    pub marketing_channels: Option<Vec<String>>,
    /// `HH:MM-HH:MM` in the user's zone (24-hour clock, may span midnight); `""` removes them.
    pub quiet_hours: Option<String>,
}

impl PreferencesChange {
    /// Adds the change to a profile update made at `now` (the time a consent is recorded).
    pub(crate) fn apply(self, update: &mut ProfileUpdate, now: Timestamp) -> Result<(), ApiError> {
        update.quiet_hours = match self.quiet_hours.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(text) => Some(Some(QuietHours::parse(text).map_err(|e| {
                ApiError::unprocessable("invalid_quiet_hours", e)
                    .with_item(Some("notifications.quiet_hours".into()))
            })?)),
        };
        update.marketing_channels = match &self.marketing_channels {
            None => None,
            Some(names) => {
                let media = Media::parse(names.iter().map(String::as_str)).map_err(|bad| {
                    ApiError::unprocessable(
                        "invalid_marketing_channels",
                        format!("{bad:?} is not a medium: push, email or webhook"),
                    )
                    .with_item(Some("notifications.marketing_channels".into()))
                })?;
                Some(Some(media))
            }
        };
        (update.marketing, update.night_marketing, update.at) =
            (self.marketing, self.night_marketing, Some(now));
        Ok(())
    }
}

/// Notifications per page unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notifications))
        .routes(routes!(retry))
        .routes(routes!(put_device, devices))
}

/// One notification and where its delivery stands.
#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// `NEW_TOKEN_ARRIVAL`, `SEGMENT_UPGRADE`, …
    pub kind: String,
    /// Sent to receivers as `Idempotency-Key`: the same on every attempt.
    pub idempotency_key: String,
    /// `queued`, `failed` (retried at `next_attempt_at`), `sent`, `dead` or `suppressed`.
    #[schema(value_type = String)]
    pub state: DeliveryState,
    pub attempts: i64,
    /// RFC 3339, UTC, as are the other instants.
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    pub channel: Option<String>,
    pub last_error: Option<String>,
    /// Why a policy suppressed it.
    pub reason: Option<String>,
    /// The figures its texts (`ko`, `en`) are made from when it is sent (`[notify.templates]`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<StoredNotification> for NotificationView {
    fn from(n: StoredNotification) -> Self {
        let pending = matches!(n.state, DeliveryState::Queued | DeliveryState::Failed);
        Self {
            id: n.id,
            kind: n.kind,
            idempotency_key: n.dedupe_key,
            state: n.state,
            attempts: n.attempts,
            created_at: n.created_at.to_string(),
            next_attempt_at: pending.then(|| n.next_attempt_at.to_string()),
            sent_at: n.sent_at.map(|t| t.to_string()),
            channel: n.channel,
            last_error: n.last_error,
            reason: n.reason,
            payload: n.payload,
        }
    }
}

/// A page of a user's notifications, newest first.
#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<NotificationView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
struct PageQuery {
    /// Notifications per page, 1 to 500 (default 50).
    limit: Option<usize>,
    /// Only notifications with a lower id (`next_before` of the previous page).
    before: Option<i64>,
}

impl Input for PageQuery {
    const INVALID: &'static str = "invalid_query";
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/notifications", tag = "notifications",
    params(("user_id" = String, Path, description = "the operator's user id"), PageQuery),
    responses(
        (status = 200, body = NotificationPage),
        (status = 400, description = "bad limit or before", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn notifications(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
    Query(query): Query<PageQuery>,
) -> Result<Json<NotificationPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be from 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    let page = state.store.notifications_of(&user, query.before, limit).await?;
    let next_before = (page.len() == limit).then(|| page.last().map(|n| n.id)).flatten();
    Ok(Json(NotificationPage { notifications: page.into_iter().map(Into::into).collect(), next_before }))
}

#[utoipa::path(
    post, path = "/v1/notifications/{id}/retry", tag = "notifications",
    params(("id" = i64, Path, description = "the notification's id")),
    responses(
        (status = 200, body = NotificationView, description = "queued again, due now"),
        (status = 404, description = "no such notification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_dead`: only a dead notification is retried", body = Problem,
         content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
async fn retry(
    caller: Caller<AdminScope>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<NotificationView>, ApiError> {
    match state.store.retry_notification(id, state.clock.now()).await? {
        Retried::Queued(n) => {
            tracing::info!(id, key_id = %caller.key_id, "a dead notification was queued again");
            Ok(Json(n.into()))
        }
        Retried::NotDead(n) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_dead",
            format!("notification {id} is {}: only a dead one is retried", n.state.as_str()),
        )),
        Retried::Unknown => Err(ApiError::not_found("unknown_notification", format!("no notification {id}"))),
    }
}

/// A device to push to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRegistration {
    /// `android`, `ios`, `web`, or `email` for an e-mail address.
    pub platform: String,
    /// The push token the platform gave the app (hex digits on iOS), or the e-mail address.
    pub token: String,
    /// The app's bundle id or package name.
    pub app_id: String,
}

impl Input for DeviceRegistration {
    const INVALID: &'static str = "invalid_device";
}

/// A registered device.
#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    pub platform: String,
    pub token: String,
    pub app_id: String,
    pub registered_at: String,
    /// When a provider called the token invalid; pushes skip it.
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            platform: d.platform,
            token: d.token,
            app_id: d.app_id,
            registered_at: d.registered_at.to_string(),
            disabled_at: d.disabled_at.map(|t| t.to_string()),
            disabled_reason: d.disabled_reason,
        }
    }
}

#[utoipa::path(
    put, path = "/v1/users/{user_id}/devices", tag = "notifications",
    params(("user_id" = String, Path, description = "the operator's user id")),
    request_body = DeviceRegistration,
    responses(
        (status = 200, body = Vec<DeviceView>, description = "the user's devices, newest first"),
        (status = 400, description = "a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown user (a device is registered after the user's first event)",
         body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not `Content-Type: application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_platform`, `invalid_device_token`, `invalid_app_id` or `invalid_device`",
         body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn put_device(
    _caller: Caller<IngestScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
    JsonBody(device): JsonBody<DeviceRegistration>,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    check_device(&device.platform, &device.token, &device.app_id)
        .map_err(|e| ApiError::unprocessable(e.code, e.detail))?;
    let DeviceRegistration { platform, token, app_id } = device;
    let registered_at = state.clock.now();
    let record = Device {
        user_id: user.to_string(),
        platform,
        token,
        app_id,
        registered_at,
        disabled_at: None,
        disabled_reason: None,
    };
    if !state.store.put_device(record).await? {
        return Err(unknown_user(&user));
    }
    Ok(Json(state.store.devices_of(&user).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(
    get, path = "/v1/users/{user_id}/devices", tag = "notifications",
    params(("user_id" = String, Path, description = "the operator's user id")),
    responses(
        (status = 200, body = Vec<DeviceView>, description = "the user's devices, newest first"),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn devices(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    state.store.user(&user).await?.ok_or_else(|| unknown_user(&user))?;
    Ok(Json(state.store.devices_of(&user).await?.into_iter().map(Into::into).collect()))
}
