//! `GET /v1/segments/{name}/members`: the users in a segment now, as the latest nightly batch
//! decided, with the figures that decided it; paged by user id with an opaque cursor.

use axum::Json;
use axum::extract::State;
use playpulse_core::ids::UserId;
use playpulse_store::{MAX_MEMBERS_PAGE, StoredSegment};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Caller, ReadScope};
use crate::extract::{Input, Path, Query};
use crate::problem::{ApiError, Problem};

/// Members per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// Most members one page holds.
const MAX_LIMIT: usize = 1_000;

// A page reads one member past its end to learn whether another page follows.
const _: () = assert!(MAX_LIMIT < MAX_MEMBERS_PAGE);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(members))
}

/// Both parameters are taken as text and parsed by the handler, so that a bad value is a 422
/// naming its parameter.
#[derive(Deserialize, IntoParams)]
struct MembersQuery {
    /// Members per page, 1 to 1,000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `next` of the previous page.
    after: Option<String>,
}

impl Input for MembersQuery {
    // Text fields fail only when one is given twice.
    const INVALID: &'static str = "invalid_query";
}

/// A user in the segment and the figures that put them there.
#[derive(Serialize, ToSchema)]
pub struct Member {
    pub user_id: String,
    /// Days from the user's last event to the batch's business day.
    pub recency_days: i64,
    /// Events in the batch's window.
    pub frequency: i64,
    /// The configured monetary measure over the window (default: tokens spent).
    pub monetary: i64,
    pub partner_visits: i64,
    /// Tokens earned at the partner in the window.
    pub partner_tokens: i64,
    /// Balance at the end of the batch's business day, as the rules saw it.
    pub balance: i64,
    /// Position of the matching rule in `[segments].rules`; null for the fallback segment.
    pub rule_index: Option<i64>,
    /// Business date (YYYY-MM-DD) of the batch that decided it.
    pub as_of: String,
    /// Business date since which the user has been in this segment.
    pub since: String,
}

impl Member {
    fn new(user: &UserId, s: StoredSegment) -> Self {
        Self {
            user_id: user.to_string(),
            recency_days: s.rfm.recency_days,
            frequency: s.rfm.frequency,
            monetary: s.rfm.monetary,
            partner_visits: s.rfm.partner_visits,
            partner_tokens: s.rfm.partner_tokens,
            balance: s.balance,
            rule_index: s.rule_index,
            as_of: s.as_of.to_string(),
            since: s.since.to_string(),
        }
    }
}

/// A page of a segment's members, in user-id order.
#[derive(Serialize, ToSchema)]
pub struct MembersPage {
    pub segment: String,
    pub members: Vec<Member>,
    /// Pass as `after` for the next page; null on the last page.
    pub next: Option<String>,
}

#[utoipa::path(
    get, path = "/v1/segments/{name}/members", tag = "segments",
    params(("name" = String, Path, description = "a configured segment, e.g. `High Engaged`"), MembersQuery),
    responses(
        (status = 200, body = MembersPage),
        (status = 400, description = "a parameter given twice", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no configured segment has that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a bad `limit` or `after`, named in `item`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
async fn members(
    _caller: Caller<ReadScope>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<MembersQuery>,
) -> Result<Json<MembersPage>, ApiError> {
    let limit = query.limit.as_deref().map_or(Ok(DEFAULT_LIMIT), parse_limit)?;
    let after = query.after.as_deref().map(decode_cursor).transpose()?;
    if !state.product.segments.contains(&name) {
        return Err(ApiError::not_found(
            "unknown_segment",
            format!("no segment is named `{name}`: the configured ones are {:?}", state.product.segments),
        ));
    }
    let mut page = state.store.segment_members(&name, after.as_ref(), limit + 1).await?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next = page.last().filter(|_| more).map(|(user, _)| encode_cursor(user));
    let members = page.into_iter().map(|(user, s)| Member::new(&user, s)).collect();
    Ok(Json(MembersPage { segment: name, members, next }))
}

fn parse_limit(raw: &str) -> Result<usize, ApiError> {
    raw.parse().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
        )
        .with_item(Some("limit".into()))
    })
}

/// Cursors are opaque to clients: the page's last user id, as hex of its bytes.
fn encode_cursor(user: &UserId) -> String {
    hex::encode(user.as_str())
}

fn decode_cursor(cursor: &str) -> Result<UserId, ApiError> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| UserId::parse(&text).ok())
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_cursor", "`after` is not a cursor this API returned")
                .with_item(Some("after".into()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_user_it_was_made_of() {
        for id in ["u1", "High.Engaged:42", &"z".repeat(64)] {
            let user = UserId::parse(id).unwrap();
            assert_eq!(decode_cursor(&encode_cursor(&user)).unwrap(), user);
        }
        for bad in ["", "zz", "7", "ff", &hex::encode("not an id!"), &hex::encode("x".repeat(65))] {
            let err = decode_cursor(bad).unwrap_err();
            assert_eq!((err.code, err.item.as_deref()), ("invalid_cursor", Some("after")), "{bad:?}");
        }
    }

    #[test]
    fn a_limit_is_a_whole_number_from_one_to_the_most() {
        assert_eq!(parse_limit("1").unwrap(), 1);
        assert_eq!(parse_limit("1000").unwrap(), MAX_LIMIT);
        for bad in ["0", "1001", "-1", "abc", "", "2.5", "99999999999999999999999"] {
            let err = parse_limit(bad).unwrap_err();
            assert_eq!((err.code, err.item.as_deref()), ("invalid_limit", Some("limit")), "{bad:?}");
        }
    }
}
