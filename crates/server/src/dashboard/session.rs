//! Who is signed in: the session cookie, the CSRF token, the role.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use playpulse_core::access::same_secret;
use playpulse_core::operators::Role;
use playpulse_store::OperatorSession;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::i18n::{LANG_COOKIE, Lang};
use super::layout::Refusal;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "playpulse_session";

/// A signed-in operator, extracted from the session cookie. A request without a valid
/// session is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    /// The language the operator reads the pages in.
    pub lang: Lang,
    token_hash: String,
}

impl Operator {
    /// Refuses a viewer: the action is an admin's.
    pub(super) fn require_admin(&self) -> Result<(), Refusal> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Viewer => Err(Refusal::new(
                self.lang,
                StatusCode::FORBIDDEN,
                "admin_only",
                "This action is an admin's; your account is a viewer's.",
            )),
        }
    }

    /// Refuses a state change without this session's CSRF token.
    pub(super) fn check_csrf(&self, sent: Option<&str>) -> Result<(), Refusal> {
        match sent {
            Some(sent) if same_secret(sent.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(Refusal::new(
                self.lang,
                StatusCode::FORBIDDEN,
                "csrf_token_invalid",
                "The form's security token is missing or stale: reload the page and try again.",
            )),
        }
    }

    /// Lets an admin's action through: the session's CSRF token, then the role.
    pub(super) fn admin_action(&self, csrf: Option<&str>) -> Result<(), Refusal> {
        self.check_csrf(csrf).and_then(|()| self.require_admin())
    }

    /// The stored hash of this session's token.
    pub(super) fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or(Lang::Ko);
        let sign_in = || Redirect::to("/dashboard/login").into_response();
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(sign_in)?;
        let found = state.store.session(&token_hash(token), state.clock.now()).await.map_err(|err| {
            tracing::error!(error = %err, "session lookup failed");
            let text = "The database did not answer; try again.";
            Refusal::new(lang, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", text).into_response()
        })?;
        let (session, role) = found.ok_or_else(sign_in)?;
        Ok(Operator { name: session.name, role, csrf: session.csrf, lang, token_hash: session.token_hash })
    }
}

/// The client's address: the TCP peer (in-process callers without one share one).
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientAddress(peer.map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(p)| p.ip())))
    }
}

/// A new session for `name` at `now`, and the token its cookie carries.
pub(super) fn new_session(
    name: &str,
    now: Timestamp,
    ttl: jiff::SignedDuration,
) -> (OperatorSession, String) {
    let token = random_hex();
    let session = OperatorSession {
        token_hash: token_hash(&token),
        name: name.to_owned(),
        csrf: random_hex(),
        created_at: now,
        expires_at: now + ttl,
    };
    (session, token)
}

/// The `Set-Cookie` value of a session token (`None`: the cookie's removal).
pub(super) fn set_cookie(token: Option<&str>, max_age_s: i64, secure: bool) -> String {
    let (value, max_age) = match token {
        Some(token) => (token, max_age_s),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/dashboard; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// Whether the request reached the TLS-terminating proxy over HTTPS.
pub(super) fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name && !value.is_empty()).then_some(value))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 256 random bits, hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; playpulse_session=abc; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        let mut empty = HeaderMap::new();
        empty.append(header::COOKIE, HeaderValue::from_static("playpulse_session=; x=y"));
        assert_eq!(cookie(&empty, SESSION_COOKIE), None);
        assert_eq!(cookie(&HeaderMap::new(), SESSION_COOKIE), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_https() {
        let plain = set_cookie(Some("t"), 60, false);
        assert_eq!(plain, "playpulse_session=t; Path=/dashboard; Max-Age=60; HttpOnly; SameSite=Strict");
        assert!(set_cookie(Some("t"), 60, true).ends_with("; Secure"));
        assert!(set_cookie(None, 60, false).contains("playpulse_session=; Path=/dashboard; Max-Age=0"));
        let mut headers = HeaderMap::new();
        assert!(!over_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(over_https(&headers));
    }
}
