//! `/v1/content`: the staged content catalog, edited by admins (create, replace with the
//! expected version, retire) and read by operators, with every version kept.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use playpulse_core::content::{ContentId, ContentItem, InvalidContent, Localized};
use playpulse_store::{ContentSaved, Expected, StoredContent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{AdminScope, Caller, ReadScope};
use crate::extract::{Input, JsonBody, Path};
use crate::problem::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, replace, retire))
        .routes(routes!(versions))
}

/// An item as the API shows it: its fields, its version and whether it is retired.
#[derive(Serialize, ToSchema)]
pub struct ContentView {
    pub content_id: String,
    pub series: String,
    pub stage: u32,
    #[schema(value_type = Object)]
    pub name: Localized,
    #[schema(value_type = Object)]
    pub description: Localized,
    pub thumbnail_url: String,
    pub media_url: String,
    pub required_segment: Option<String>,
    pub adult: bool,
    /// Tokens an unlock spends.
    pub cost: i64,
    /// Send it back with a replacement (`PUT`): a stale one is answered 409 `version_conflict`.
    pub version: i64,
    pub retired: bool,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<StoredContent> for ContentView {
    fn from(s: StoredContent) -> Self {
        let i = s.item;
        Self {
            content_id: i.content_id.to_string(),
            series: i.series,
            stage: i.stage,
            name: i.name,
            description: i.description,
            thumbnail_url: i.thumbnail_url,
            media_url: i.media_url,
            required_segment: i.required_segment,
            adult: i.adult,
            cost: i.cost.0,
            version: s.version,
            retired: s.retired,
            updated_at: s.updated_at.to_string(),
        }
    }
}

/// An item's fields (see the README's "Content catalog"); a replacement also carries the
/// `version` it replaces.
#[derive(Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct ItemBody(Value);

impl Input for ItemBody {
    const INVALID: &'static str = "invalid_content";
}

/// The `{content_id}` of a route, parsed: 400 `invalid_content_id`.
pub(crate) fn content_id(raw: &str) -> Result<ContentId, ApiError> {
    ContentId::parse(raw).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_content_id",
            "a content id is 1 to 64 characters of A-Z a-z 0-9 _ . : -",
        )
    })
}

pub(crate) fn unknown_content(id: &ContentId) -> ApiError {
    ApiError::not_found("unknown_content", format!("no content item `{id}`"))
}

/// The one answer for an item that does not validate, naming the field.
pub fn invalid_content(err: InvalidContent) -> ApiError {
    let item = Some(err.field.clone());
    ApiError::unprocessable("invalid_content", err.to_string()).with_item(item)
}

/// The answer for a write the store did not make.
pub fn refused_write(id: &ContentId, saved: ContentSaved) -> ApiError {
    match saved {
        ContentSaved::Saved { .. } => ApiError::internal(),
        ContentSaved::Exists => ApiError::new(
            StatusCode::CONFLICT,
            "content_exists",
            format!("content `{id}` exists; replace it with PUT"),
        ),
        ContentSaved::UnknownContent => unknown_content(id),
        ContentSaved::VersionConflict { current } => ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            format!("content `{id}` changed: its version is now {current}; read it again"),
        )
        .with_item(Some("version".into())),
        ContentSaved::StageTaken { by } => ApiError::new(
            StatusCode::CONFLICT,
            "stage_taken",
            format!("`{by}` holds that stage of the series; retire or move it first"),
        )
        .with_item(Some("stage".into())),
    }
}

async fn answer(
    state: &AppState,
    id: &ContentId,
    saved: ContentSaved,
) -> Result<Json<ContentView>, ApiError> {
    match saved {
        ContentSaved::Saved { stored, changed, .. } => {
            if changed {
                state.refresh_catalog().await;
            }
            Ok(Json((*stored).into()))
        }
        other => Err(refused_write(id, other)),
    }
}

#[utoipa::path(
    get, path = "/v1/content", tag = "content",
    responses((status = 200, description = "every item, adult and retired ones included, by series and stage",
               body = Vec<ContentView>)),
    security(("api_key" = ["read"]))
)]
async fn list(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
) -> Result<Json<Vec<ContentView>>, ApiError> {
    let items = state.store.content_items().await?;
    Ok(Json(items.into_iter().map(ContentView::from).collect()))
}

#[utoipa::path(
    post, path = "/v1/content", tag = "content",
    request_body = ItemBody,
    responses(
        (status = 200, body = ContentView),
        (status = 409, description = "`content_exists`, or `stage_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_content`, naming the field in `item`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
async fn create(
    caller: Caller<AdminScope>,
    State(state): State<AppState>,
    JsonBody(ItemBody(raw)): JsonBody<ItemBody>,
) -> Result<Json<ContentView>, ApiError> {
    let item = ContentItem::parse(&raw, &state.product.segments).map_err(invalid_content)?;
    let id = item.content_id.clone();
    let saved = state.store.save_content(item, Expected::Absent, state.clock.now()).await?;
    tracing::info!(content = %id, key = %caller.key_id, "content created");
    answer(&state, &id, saved).await
}

#[utoipa::path(
    get, path = "/v1/content/{content_id}", tag = "content",
    params(("content_id" = String, Path, description = "the item's id")),
    responses(
        (status = 200, body = ContentView),
        (status = 404, description = "`unknown_content`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn one(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<ContentView>, ApiError> {
    let id = content_id(&raw)?;
    let stored = state.store.content_item(&id).await?.ok_or_else(|| unknown_content(&id))?;
    Ok(Json(stored.into()))
}

#[utoipa::path(
    put, path = "/v1/content/{content_id}", tag = "content",
    params(("content_id" = String, Path, description = "the item's id")),
    request_body = ItemBody,
    responses(
        (status = 200, description = "replaced (a retired item is revived)", body = ContentView),
        (status = 404, description = "`unknown_content`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`version_conflict`, or `stage_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_content`, naming the field in `item`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
async fn replace(
    caller: Caller<AdminScope>,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    JsonBody(ItemBody(mut raw)): JsonBody<ItemBody>,
) -> Result<Json<ContentView>, ApiError> {
    let id = content_id(&raw_id)?;
    let obj = raw.as_object_mut().ok_or_else(|| {
        invalid_content(InvalidContent {
            field: "item".into(),
            message: "an item must be a JSON object".into(),
        })
    })?;
    let version = obj.remove("version").and_then(|v| v.as_i64()).filter(|v| *v >= 1).ok_or_else(|| {
        invalid_content(InvalidContent {
            field: "version".into(),
            message: "the version being replaced is required (a positive integer)".into(),
        })
    })?;
    obj.entry("content_id").or_insert_with(|| Value::String(id.to_string()));
    let item = ContentItem::parse(&raw, &state.product.segments).map_err(invalid_content)?;
    if item.content_id != id {
        return Err(invalid_content(InvalidContent {
            field: "content_id".into(),
            message: format!("the body names `{}`, the path `{id}`", item.content_id),
        }));
    }
    let saved = state.store.save_content(item, Expected::Version(version), state.clock.now()).await?;
    tracing::info!(content = %id, key = %caller.key_id, "content replaced");
    answer(&state, &id, saved).await
}

#[utoipa::path(
    delete, path = "/v1/content/{content_id}", tag = "content",
    params(("content_id" = String, Path, description = "the item's id")),
    responses(
        (status = 200, description = "retired: no longer listed to users nor unlockable; history and holders stay",
         body = ContentView),
        (status = 404, description = "`unknown_content`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
async fn retire(
    caller: Caller<AdminScope>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<ContentView>, ApiError> {
    let id = content_id(&raw)?;
    let saved = state.store.retire_content(&id, state.clock.now()).await?;
    tracing::info!(content = %id, key = %caller.key_id, "content retired");
    answer(&state, &id, saved).await
}

#[utoipa::path(
    get, path = "/v1/content/{content_id}/versions", tag = "content",
    params(("content_id" = String, Path, description = "the item's id")),
    responses(
        (status = 200, description = "every version, newest first", body = Vec<ContentView>),
        (status = 404, description = "`unknown_content`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn versions(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<Vec<ContentView>>, ApiError> {
    let id = content_id(&raw)?;
    let versions = state.store.content_versions(&id).await?;
    if versions.is_empty() {
        return Err(unknown_content(&id));
    }
    Ok(Json(versions.into_iter().map(ContentView::from).collect()))
}
