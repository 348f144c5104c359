//! The pages: a layout shared by all, the overview, the API keys.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use playpulse_core::operators::Role;

use super::login::{CsrfForm, sent_csrf, store_down};
use super::session::Operator;
use crate::AppState;

const STYLESHEET: &str = include_str!("app.css");

/// The stylesheet, embedded in the binary.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLESHEET)
        .into_response()
}

/// A whole page: the navigation for a signed-in operator, then `body`.
pub(super) fn page(title: &str, operator: Option<&Operator>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · playpulse" }
                link rel="stylesheet" href="/dashboard/assets/app.css";
            }
            body {
                @if let Some(operator) = operator {
                    header.bar {
                        nav {
                            a href="/dashboard" { "Overview" }
                            a href="/dashboard/keys" { "API keys" }
                        }
                        form method="post" action="/dashboard/logout" {
                            span.who { (operator.name) " · " (operator.role) }
                            input type="hidden" name="csrf" value=(operator.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A request refused, shown as a page with its stable code (also in the `x-playpulse-code`
/// header, for scripts and tests).
#[derive(Debug)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = page(
            "Refused",
            None,
            html! {
                section.card {
                    h1 { (self.status.canonical_reason().unwrap_or("Refused")) }
                    p { (self.message) }
                    p.code { "code: " code { (self.code) } }
                    p { a href="/dashboard" { "Back to the dashboard" } }
                }
            },
        );
        (self.status, [("x-playpulse-code", self.code)], body).into_response()
    }
}

/// A [`Refusal`] as a response.
pub(super) fn refusal(status: StatusCode, code: &'static str, message: &'static str) -> Response {
    Refusal { status, code, message }.into_response()
}

/// The overview: the store's figures now.
pub async fn overview(State(state): State<AppState>, operator: Operator) -> Response {
    let now = state.clock.now();
    let today = state.zone.start_of(state.zone.day_of(now)).unwrap_or(now);
    let vitals = match state.store.vitals(today).await {
        Ok(vitals) => vitals,
        Err(err) => return store_down(err),
    };
    let figures = [
        ("Users", vitals.users.to_string()),
        ("Active today", vitals.active.to_string()),
        ("Token supply", vitals.token_supply.to_string()),
        ("Notifications waiting", vitals.outbox_pending.to_string()),
    ];
    page(
        "Overview",
        Some(&operator),
        html! {
            h1 { "Overview" }
            section.figures {
                @for (label, value) in &figures {
                    div.figure { span.label { (label) } span.value { (value) } }
                }
            }
            section.card {
                h2 { "Segments" }
                table {
                    thead { tr { th { "Segment" } th.num { "Users" } } }
                    tbody {
                        @for (segment, users) in &vitals.segments {
                            tr { td { (segment) } td.num { (users) } }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// The API keys, with a revoke button for admins.
pub async fn keys(State(state): State<AppState>, operator: Operator) -> Response {
    let keys = match state.store.api_keys().await {
        Ok(keys) => keys,
        Err(err) => return store_down(err),
    };
    let admin = operator.role == Role::Admin;
    page(
        "API keys",
        Some(&operator),
        html! {
            h1 { "API keys" }
            table.card {
                thead { tr { th { "Key" } th { "Name" } th { "Scopes" } th { "Created" } th { "State" } } }
                tbody {
                    @for key in &keys {
                        tr {
                            td { code { (key.key_id) } }
                            td { (key.name) }
                            td { (key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (key.created_at.strftime("%Y-%m-%d %H:%M UTC")) }
                            td {
                                @if key.revoked { "revoked" }
                                @else if admin {
                                    form method="post" action={ "/dashboard/keys/" (key.key_id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(operator.csrf);
                                        button.danger type="submit" { "Revoke" }
                                    }
                                } @else { "active" }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// Revokes an API key: an admin's action, with the session's CSRF token.
pub async fn revoke_key(
    State(state): State<AppState>,
    operator: Operator,
    Path(key_id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(refused) = operator.check_csrf(sent_csrf(&form)).and_then(|()| operator.require_admin()) {
        return refused.into_response();
    }
    match state.store.revoke_api_key(&key_id, state.clock.now()).await {
        Ok(true) => {
            tracing::info!(operator = %operator.name, key_id = %key_id, "API key revoked from the dashboard");
            Redirect::to("/dashboard/keys").into_response()
        }
        Ok(false) => refusal(StatusCode::NOT_FOUND, "unknown_key", "No active key has that id."),
        Err(err) => store_down(err),
    }
}
