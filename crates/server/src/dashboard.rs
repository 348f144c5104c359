//! The operator team's web dashboard under `/dashboard`: HTML rendered on the server with
//! `maud` (every interpolated value is escaped by construction), its one stylesheet embedded
//! in the binary, so it works offline and needs nothing but cargo to build.
//!
//! Operators sign in with an account (`playpulse operators create`); the session lives in an
//! HttpOnly, SameSite=Strict cookie scoped to `/dashboard`, and every state change carries
//! the session's CSRF token. Roles are enforced here, on the server: a viewer's request for
//! an admin action is refused whatever the page showed.

mod chart;
mod economy;
mod hours;
mod i18n;
mod jobs;
mod keys;
mod kpi;
mod layout;
mod login;
mod overview;
mod proposals;
mod retention;
mod segments;
mod session;
mod users;

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::SignedDuration;
use playpulse_store::Lockout;
use tower_http::set_header::SetResponseHeaderLayer;

pub use i18n::{LANG_COOKIE, Lang};
pub use session::{Operator, SESSION_COOKIE};

use crate::AppState;

/// How the dashboard signs operators in.
#[derive(Debug, Clone, Copy)]
pub struct DashboardSettings {
    /// How long a session lasts from sign-in.
    pub session_ttl: SignedDuration,
    /// Wrong passwords in a row that lock an account, and for how long.
    pub lockout: Lockout,
    /// Sign-in attempts one client address may make per minute, right or wrong.
    pub login_attempts_per_minute: NonZeroU32,
    /// Marks the cookie `Secure` always; otherwise only when the request came over HTTPS
    /// (`X-Forwarded-Proto: https` from the TLS-terminating proxy).
    pub secure_cookie: bool,
}

/// The dashboard's settings and its sign-in rate limit.
pub struct Desk {
    pub settings: DashboardSettings,
    logins: DefaultKeyedRateLimiter<IpAddr>,
}

impl Desk {
    pub fn new(settings: DashboardSettings) -> Self {
        Self { logins: RateLimiter::keyed(Quota::per_minute(settings.login_attempts_per_minute)), settings }
    }
}

/// The dashboard's routes.
pub fn router() -> Router<AppState> {
    let security = [
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    let mut router = Router::new()
        .route("/dashboard", get(overview::overview))
        .route("/dashboard/retention", get(retention::retention))
        .route("/dashboard/economy", get(economy::economy))
        .route("/dashboard/segments", get(segments::segments))
        .route("/dashboard/hours", get(hours::hours))
        .route("/dashboard/proposals", get(proposals::proposals))
        .route("/dashboard/jobs", get(jobs::jobs))
        .route("/dashboard/jobs/{run_id}/retry", post(jobs::retry))
        .route("/dashboard/users", get(users::users))
        .route("/dashboard/users/{user_id}/limits", post(users::set_limits))
        .route("/dashboard/keys", get(keys::keys))
        .route("/dashboard/keys/{key_id}/revoke", post(keys::revoke_key))
        .route("/dashboard/login", get(login::form).post(login::submit))
        .route("/dashboard/logout", post(login::logout))
        .route("/dashboard/lang/{code}", get(layout::switch_language))
        .route("/dashboard/assets/app.css", get(layout::stylesheet))
        .route("/dashboard/assets/icon.svg", get(layout::icon));
    for (name, value) in security {
        router = router.layer(SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value)));
    }
    router
}
