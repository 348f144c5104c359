//! Errors at the HTTP edge, answered as RFC 9457 `application/problem+json` in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use playpulse_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer: a status, a stable machine `code` and a human `detail`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Seconds to wait before retrying (429 only).
    pub retry_after_s: Option<u64>,
    /// The input item at fault (a quiz item, a field), when there is one.
    pub item: Option<String>,
}

/// The problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem kind: `urn:playpulse:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine code, e.g. `unknown_user`.
    pub code: String,
    pub detail: String,
    /// The input item at fault, when there is one (e.g. the quiz item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), retry_after_s: None, item: None }
    }

    /// Names the input item at fault.
    pub fn with_item(self, item: Option<String>) -> Self {
        Self { item, ..self }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// A failure of ours, already logged: the client learns only that it was internal.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        // Logged here, once, with its cause; the client learns only that it was internal.
        tracing::error!(error = %err, "store failure");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("urn:playpulse:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail,
            item: self.item,
        };
        let body = serde_json::to_vec(&problem).expect("a problem always serializes");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after_s {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
