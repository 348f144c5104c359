//! What every channel's HTTP shares: the client, and how an answer or a failure reads as an
//! [`Attempt`].

use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::backoff::retry_after;
use crate::dispatcher::Attempt;

/// The client every channel starts from: requests time out after `timeout`, and redirects
/// are not followed (a signed request is for its address alone; a redirect is the
/// receiver's error).
pub(crate) fn client(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("playpulse/", env!("CARGO_PKG_VERSION")))
}

/// A refused answer as an attempt: failed (with its `Retry-After`) when the status is worth
/// another try, refused for good otherwise; `error` says what was refused.
pub(crate) fn refusal(status: StatusCode, headers: &HeaderMap, error: String, now: Timestamp) -> Attempt {
    let asked = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| retry_after(v, now));
    if retryable(status) { Attempt::Failed { error, retry_after: asked } } else { Attempt::Refused { error } }
}

/// A request that got no answer: the receiver may or may not have it, so it is tried again.
pub(crate) fn unanswered(err: &reqwest::Error) -> Attempt {
    Attempt::Failed { error: transport_error(err), retry_after: None }
}

/// Statuses worth another attempt: the receiver is busy, down or asks to wait. Any other
/// refusal (a 4xx, a redirect) will not change by itself.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_EARLY | StatusCode::TOO_MANY_REQUESTS
        )
}

fn transport_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let kind = if err.is_connect() { "could not connect" } else { "connection failed" };
    // The innermost cause says why (refused, reset, closed…), without the address.
    let mut cause = None;
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        cause = Some(s.to_string());
        source = s.source();
    }
    cause.map_or_else(|| kind.to_owned(), |cause| format!("{kind}: {cause}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_troubles_are_retried() {
        for code in [500, 502, 503, 504, 408, 425, 429] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [301, 400, 401, 403, 404, 410, 413, 422] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
