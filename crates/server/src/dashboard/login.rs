//! Signing in and out. Wrong passwords are counted per account in the store (a lock after
//! the configured number) and attempts per client address here (a rate limit), so neither a
//! guesser with one account nor one with many gets far.

use std::sync::OnceLock;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use playpulse_core::operators::{check_name, hash_password, verify_password};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout::{Refusal, frame};
use super::session::{ClientAddress, Operator, new_session, over_https, set_cookie};
use crate::AppState;

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

/// A form that carries only the session's CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// The CSRF token a form sent, if it could be read at all.
pub(super) fn sent_csrf(form: &Result<Form<CsrfForm>, FormRejection>) -> Option<&str> {
    form.as_ref().ok().and_then(|f| f.csrf.as_deref())
}

/// The sign-in page.
pub async fn form(lang: Lang) -> Markup {
    sign_in_page(lang, None)
}

fn sign_in_page(lang: Lang, problem: Option<&'static str>) -> Markup {
    frame(
        lang,
        lang.t("Sign in"),
        html! {
            main {
                form.card.sign-in method="post" action="/dashboard/login" {
                    h1 { "playpulse" }
                    @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
                    label { (lang.t("Name")) input name="name" autocomplete="username" required autofocus; }
                    label {
                        (lang.t("Password"))
                        input name="password" type="password" autocomplete="current-password" required;
                    }
                    button type="submit" { (lang.t("Sign in")) }
                    p { a href={ "/dashboard/lang/" (lang.other().code()) } { (match lang { Lang::Ko => "English", Lang::En => "한국어" }) } }
                }
            }
        },
    )
}

/// Checks a name and password: a session and its cookie, or the sign-in page again with a
/// reason that does not tell a wrong name from a wrong password.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<Credentials>, FormRejection>,
) -> Response {
    let Ok(Form(credentials)) = form else {
        let text = "The form could not be read.";
        return Refusal::new(lang, StatusCode::UNPROCESSABLE_ENTITY, "invalid_form", text).into_response();
    };
    let desk = &state.dashboard;
    if desk.logins.check_key(&address).is_err() {
        let text = "Too many sign-in attempts from this address: wait a minute.";
        let mut refused =
            Refusal::new(lang, StatusCode::TOO_MANY_REQUESTS, "too_many_sign_ins", text).into_response();
        refused.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return refused;
    }
    let now = state.clock.now();
    let wrong = || {
        (StatusCode::UNAUTHORIZED, sign_in_page(lang, Some(lang.t("Wrong name or password."))))
            .into_response()
    };
    let locked = || {
        let text = lang.t("This account is locked for a while after repeated wrong passwords.");
        (StatusCode::FORBIDDEN, sign_in_page(lang, Some(text))).into_response()
    };
    // A name no account can have (a NUL, upper case, too long) is not looked up at all.
    let lookup = match check_name(&credentials.name) {
        Ok(()) => state.store.operator(&credentials.name).await,
        Err(_) => Ok(None),
    };
    let found = match lookup {
        Ok(found) => found,
        Err(err) => return store_down(lang, err),
    };
    // An unknown name costs the same hashing as a known one, so timing does not tell them apart.
    let hash = found.as_ref().map_or_else(|| decoy_hash().to_owned(), |o| o.password_hash.clone());
    let password = credentials.password;
    let right = tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await.unwrap_or(false);
    let Some(operator) = found else { return wrong() };
    if operator.is_locked(now) {
        return locked();
    }
    if !right {
        return match state.store.login_failed(&operator.name, now, desk.settings.lockout).await {
            Ok(Some(after)) if after.is_locked(now) => locked(),
            Ok(_) => wrong(),
            Err(err) => store_down(lang, err),
        };
    }
    let (session, token) = new_session(&operator.name, now, desk.settings.session_ttl);
    let stored = async {
        state.store.login_succeeded(&operator.name).await?;
        state.store.create_session(session).await
    };
    if let Err(err) = stored.await {
        return store_down(lang, err);
    }
    tracing::info!(operator = %operator.name, "operator signed in");
    let secure = desk.settings.secure_cookie || over_https(&headers);
    let cookie = set_cookie(Some(&token), desk.settings.session_ttl.as_secs(), secure);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/dashboard")).into_response()
}

/// Ends the session (a state change: it needs the CSRF token).
pub async fn logout(
    State(state): State<AppState>,
    operator: Operator,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(refused) = operator.check_csrf(sent_csrf(&form)) {
        return refused.into_response();
    }
    if let Err(err) = state.store.end_session(operator.token_hash()).await {
        return store_down(operator.lang, err);
    }
    let secure = state.dashboard.settings.secure_cookie || over_https(&headers);
    ([(header::SET_COOKIE, set_cookie(None, 0, secure))], Redirect::to("/dashboard/login")).into_response()
}

pub(super) fn store_down(lang: Lang, err: playpulse_store::StoreError) -> Response {
    tracing::error!(error = %err, "dashboard: the store failed");
    let text = "The database did not answer; try again.";
    Refusal::new(lang, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", text).into_response()
}

/// A hash of a password nobody knows, made once per process.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("no operator has this password").expect("a valid password"))
}
