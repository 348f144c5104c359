//! Request extractors whose rejections are problems: axum's `Json`, `Query` and `Path`,
//! wrapped so that a bad body, query or path is answered as `application/problem+json`
//! with a stable code, never as axum's plain-text rejection.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use playpulse_core::ids::UserId;
use serde::de::DeserializeOwned;

use crate::events::MAX_BODY_BYTES;
use crate::problem::ApiError;

/// Something a request carries (a body or a query), naming the code of its own rejection.
pub trait Input {
    /// Code answered when the value does not deserialize (422 for a body, 400 for a query).
    const INVALID: &'static str;
}

/// A JSON request body: 415 `unsupported_media_type` without `Content-Type:
/// application/json`, 413 `body_too_large` past [`MAX_BODY_BYTES`], 400 `malformed_body`
/// when it is not JSON, 422 with `T::INVALID` when it is JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Input, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(body_problem(&rejection, T::INVALID)),
        }
    }
}

fn body_problem(rejection: &JsonRejection, invalid: &'static str) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        ),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body exceeds {MAX_BODY_BYTES} bytes"),
        ),
        JsonRejection::JsonDataError(_) => ApiError::unprocessable(invalid, rejection.body_text()),
        _ => ApiError::bad_request("malformed_body", rejection.body_text()),
    }
}

/// A query string: 400 with `T::INVALID` when it does not deserialize (`?limit=abc`).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Input, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| ApiError::bad_request(T::INVALID, rejection.body_text()))
    }
}

/// Path parameters: 400 `invalid_path` when they do not decode (e.g. a percent-escape that
/// is not UTF-8).
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection: PathRejection| {
                if rejection.status().is_server_error() {
                    // A route whose parameters do not match its handler: a bug, not bad input.
                    tracing::error!(error = %rejection.body_text(), "path extraction failed");
                    return ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "an internal error occurred; it has been logged",
                    );
                }
                ApiError::bad_request("invalid_path", rejection.body_text())
            })
    }
}

/// The `{user_id}` of a route about one user, parsed: 400 `invalid_user_id` when it is not
/// a valid user id (1–64 characters, no control characters). An erased user's pseudonym is
/// nobody a client may address: 404 `unknown_user`.
pub struct PathUser(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for PathUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        let user =
            UserId::parse(&raw).map_err(|e| ApiError::bad_request("invalid_user_id", e.to_string()))?;
        if user.is_pseudonym() {
            return Err(unknown_user(&user));
        }
        Ok(Self(user))
    }
}

/// The one answer for a user no accepted event ever named, on every route about a user.
pub fn unknown_user(user: &UserId) -> ApiError {
    ApiError::not_found("unknown_user", format!("no event of user `{user}` was ever accepted"))
}
