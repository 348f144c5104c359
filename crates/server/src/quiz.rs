//! The psychometric quiz: `GET /v1/quiz` (the current questionnaire by step) and
//! `POST /v1/quiz/submit` (validate, score, store, answer the risk profile).

use axum::Json;
use axum::extract::State;
use playpulse_core::ids::UserId;
use playpulse_core::quiz::{ItemKind, Localized};
use playpulse_store::QuizResponse;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{IngestScope, ReadScope};
use crate::extract::{Input, JsonBody, unknown_user};
use crate::player::Reader;
use crate::problem::{ApiError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(questionnaire)).routes(routes!(submit))
}

/// One question as a form shows it.
#[derive(Serialize, ToSchema)]
pub struct ItemView {
    pub id: String,
    /// `likert` (answer 1–5) or `yes_no` (answer true/false).
    #[schema(value_type = String)]
    pub kind: ItemKind,
    #[schema(value_type = Object)]
    pub text: Localized,
}

/// One page of the form.
#[derive(Serialize, ToSchema)]
pub struct Step {
    pub step: u32,
    pub items: Vec<ItemView>,
}

/// The current questionnaire.
#[derive(Serialize, ToSchema)]
pub struct QuizView {
    pub version: u32,
    pub steps: Vec<Step>,
}

#[utoipa::path(
    get, path = "/v1/quiz", tag = "quiz",
    responses((status = 200, body = QuizView)),
    security(("api_key" = ["read"]))
)]
async fn questionnaire(_reader: Reader<ReadScope>, State(state): State<AppState>) -> Json<QuizView> {
    let quiz = &state.product.quiz;
    let steps = quiz
        .steps()
        .into_iter()
        .map(|(step, items)| Step {
            step,
            items: items
                .into_iter()
                .map(|i| ItemView { id: i.id.clone(), kind: i.kind, text: i.text.clone() })
                .collect(),
        })
        .collect();
    Json(QuizView { version: quiz.version, steps })
}

/// A user's answers: item id → 1–5 (Likert) or true/false (yes/no), every item once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub user_id: String,
    pub quiz_version: u32,
    #[schema(value_type = Object)]
    pub answers: Answers,
}

impl Input for Submission {
    const INVALID: &'static str = "invalid_submission";
}

/// The answers object as sent, every key kept in order. A JSON object may repeat a key and
/// most parsers keep the last value: a repeated item would hide the answer before it, so it
/// is kept here to be refused.
pub struct Answers(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Answers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Answers;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of item id → answer")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answers, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Answers(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

impl Answers {
    /// The answers by item, or the first item answered twice.
    fn into_map(self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let mut map = serde_json::Map::with_capacity(self.0.len());
        for (item, answer) in self.0 {
            if map.contains_key(&item) {
                return Err(item);
            }
            map.insert(item, answer);
        }
        Ok(map)
    }
}

#[derive(Serialize, ToSchema)]
pub struct Scored {
    /// Always `ok`.
    pub status: &'static str,
    /// `High-Risk`, `Moderate-Risk` or `Low-Risk`.
    pub risk_profile: &'static str,
    pub score: f64,
}

#[utoipa::path(
    post, path = "/v1/quiz/submit", tag = "quiz",
    request_body = Submission,
    responses(
        (status = 200, body = Scored),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "not `Content-Type: application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a stale version or a bad answer; `item` names the item",
         body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn submit(
    reader: Reader<IngestScope>,
    State(state): State<AppState>,
    JsonBody(submission): JsonBody<Submission>,
) -> Result<Json<Scored>, ApiError> {
    let user = UserId::parse(&submission.user_id)
        .map_err(|e| ApiError::unprocessable("invalid_user_id", e.to_string()))?;
    reader.may_act_for(&user)?;
    let answers = submission.answers.into_map().map_err(|item| {
        ApiError::unprocessable("duplicate_answer", format!("item `{item}` is answered more than once"))
            .with_item(Some(item))
    })?;
    let scored = state
        .product
        .quiz
        .score(submission.quiz_version, &answers)
        .map_err(|e| ApiError::unprocessable(e.code, e.detail).with_item(e.item))?;
    let response = QuizResponse {
        version: submission.quiz_version,
        answers: serde_json::Value::Object(answers),
        score: scored.score,
        profile: scored.profile,
        submitted_at: state.clock.now(),
    };
    // One rule for every endpoint about a user: the user exists once an event of theirs was
    // accepted, and nothing is stored for a user that does not.
    if !state.store.save_quiz(&user, response).await? {
        return Err(unknown_user(&user));
    }
    Ok(Json(Scored { status: "ok", risk_profile: scored.profile.as_str(), score: scored.score }))
}
