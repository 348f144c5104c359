//! API keys: every key the servers use, and revoking one (an admin's action).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use playpulse_core::operators::Role;

use super::kpi::when;
use super::layout::{Refusal, page};
use super::login::{CsrfForm, sent_csrf, store_down};
use super::session::Operator;
use crate::AppState;

/// The keys, with a revoke button for admins.
pub async fn keys(State(state): State<AppState>, operator: Operator) -> Response {
    let lang = operator.lang;
    let keys = match state.store.api_keys().await {
        Ok(keys) => keys,
        Err(err) => return store_down(lang, err),
    };
    let admin = operator.role == Role::Admin;
    page(&operator, "/dashboard/keys", lang.t("API keys"), html! {
        table.card {
            thead { tr {
                th { (lang.t("Key")) } th { (lang.t("Name")) } th { (lang.t("Scopes")) } th { (lang.t("Created")) } th { (lang.t("State")) }
            } }
            tbody {
                @for key in &keys {
                    tr {
                        td { code { (key.key_id) } }
                        td { (key.name) }
                        td { (key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                        td { (when(&state, key.created_at)) }
                        td {
                            @if key.revoked { (lang.t("revoked")) }
                            @else if admin {
                                form method="post" action={ "/dashboard/keys/" (key.key_id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(operator.csrf);
                                    button.danger type="submit" { (lang.t("Revoke")) }
                                }
                            } @else { (lang.t("active")) }
                        }
                    }
                }
            }
        }
    })
    .into_response()
}

/// Revokes an API key: an admin's action, with the session's CSRF token.
pub async fn revoke_key(
    State(state): State<AppState>,
    operator: Operator,
    Path(key_id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(refused) = operator.admin_action(sent_csrf(&form)) {
        return refused.into_response();
    }
    match state.store.revoke_api_key(&key_id, state.clock.now()).await {
        Ok(true) => {
            tracing::info!(operator = %operator.name, key_id = %key_id, "API key revoked from the dashboard");
            Redirect::to("/dashboard/keys").into_response()
        }
        Ok(false) => {
            Refusal::new(operator.lang, StatusCode::NOT_FOUND, "unknown_key", "No active key has that id.")
                .into_response()
        }
        Err(err) => store_down(operator.lang, err),
    }
}
