//! The one-click opt-out: the signed link every notification carries (`[notify.opt_out]`).
//! Opening it shows one button; pressing it withdraws the user's marketing consents. A GET
//! changes nothing, since mail and chat clients open links on their own to preview them.
//! A link that does not verify, for any reason, is answered the same 403, and a verified
//! one the same page whether or not the user is still known.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use playpulse_core::ids::UserId;
use playpulse_core::notify::opt_out_verifies;
use playpulse_store::ProfileUpdate;
use serde::Deserialize;

use crate::AppState;
use crate::extract::{Input, Query};
use crate::problem::ApiError;

#[derive(Deserialize)]
pub struct Link {
    user: String,
    sig: String,
}

impl Input for Link {
    const INVALID: &'static str = "invalid_opt_out_link";
}

/// Why a link is not followed.
enum Refused {
    /// No secret is configured: there are no links.
    Off,
    Invalid,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Off => ApiError::not_found("not_found", "no such route").into_response(),
            Refused::Invalid => page(
                StatusCode::FORBIDDEN,
                html! { p { "이 링크는 유효하지 않습니다." } p { "This link is not valid." } },
            ),
        }
    }
}

/// The user of a link that verifies under the configured secret.
fn verified(state: &AppState, link: &Link) -> Result<UserId, Refused> {
    let secret = state.opt_out_secret.as_ref().ok_or(Refused::Off)?;
    UserId::parse(&link.user)
        .ok()
        .filter(|user| opt_out_verifies(secret, user, &link.sig))
        .ok_or(Refused::Invalid)
}

pub async fn confirm(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    if let Err(refused) = verified(&state, &link) {
        return refused.into_response();
    }
    page(
        StatusCode::OK,
        html! {
            p { "마케팅 알림을 더 이상 받지 않으시겠어요?" }
            p { "Stop marketing notifications?" }
            form method="post" {
                button type="submit" { "수신 거부 · Unsubscribe" }
            }
        },
    )
}

pub async fn withdraw(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    let user = match verified(&state, &link) {
        Ok(user) => user,
        Err(refused) => return refused.into_response(),
    };
    let update = ProfileUpdate {
        marketing: Some(false),
        night_marketing: Some(false),
        at: Some(state.clock.now()),
        ..ProfileUpdate::default()
    };
    if let Err(err) = state.store.update_profile(&user, update).await {
        return ApiError::from(err).into_response();
    }
    tracing::info!(user = %user, "marketing consents withdrawn by the user's opt-out link");
    page(
        StatusCode::OK,
        html! {
            p { "마케팅 알림 수신을 거부했습니다." }
            p { "You will no longer receive marketing notifications." }
        },
    )
}

fn page(status: StatusCode, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="ko" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width"; title { "playpulse" } }
            body { (body) }
        }
    };
    let headers = [
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (status, headers, markup).into_response()
}
