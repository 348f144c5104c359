//! The quiz: the questionnaire by step, scoring into a risk profile, and answers refused
//! with the item named and nothing stored.

use playpulse_core::ids::UserId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, earn};

on_both_backends!(
    answers_set_the_risk_profile_with_history,
    bad_answers_name_the_item_and_change_nothing,
    a_repeated_item_and_an_unknown_user_are_refused
);

/// Answers that lean one way on every item of the default quiz.
fn answers(lean: i64) -> Value {
    json!({
        "thrill": 3 + 2 * lean, "big_win": 3 + 2 * lean, "steady": 3 - 2 * lean,
        "all_in": lean >= 0, "stop_rule": lean <= 0, "chase": 3 + 2 * lean,
    })
}

async fn submit(app: &TestApp, user: &str, version: u32, answers: Value) -> (StatusCode, Value) {
    let body = json!({"user_id": user, "quiz_version": version, "answers": answers});
    app.call(reqwest::Method::POST, "/v1/quiz/submit", body).await
}

async fn answers_set_the_risk_profile_with_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, quiz) = app.get("/v1/quiz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quiz["version"], 1);
    let steps = quiz["steps"].as_array().unwrap();
    assert_eq!(steps.iter().map(|s| s["step"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    let first = &steps[0]["items"][0];
    assert!(first["text"]["ko"].is_string() && first["text"]["en"].is_string(), "{first}");
    assert_eq!(first["kind"], "likert");

    app.send(&[earn("quizzer", 10)]).await;
    let (status, scored) = submit(&app, "quizzer", 1, answers(1)).await;
    assert_eq!(status, StatusCode::OK, "{scored}");
    assert_eq!(scored, json!({"status": "ok", "risk_profile": "High-Risk", "score": 6.0}));
    let (_, scored) = submit(&app, "quizzer", 1, answers(0)).await;
    assert_eq!(
        (scored["risk_profile"].as_str(), scored["score"].as_f64()),
        (Some("Moderate-Risk"), Some(0.0))
    );
    let (_, scored) = submit(&app, "quizzer", 1, answers(-1)).await;
    assert_eq!(scored["risk_profile"], "Low-Risk");

    let (_, profile) = app.get("/v1/users/quizzer").await;
    assert_eq!(
        (profile["risk_profile"].as_str(), profile["risk_score"].as_f64()),
        (Some("Low-Risk"), Some(-6.0))
    );
    let history = app.state.store.quiz_responses(&UserId::parse("quizzer").unwrap(), 10).await.unwrap();
    let profiles: Vec<&str> = history.iter().map(|r| r.profile.as_str()).collect();
    assert_eq!(profiles, ["Low-Risk", "Moderate-Risk", "High-Risk"], "newest first, every response kept");
    assert_eq!(history[2].answers, answers(1));
    app.stop().await;
}

async fn bad_answers_name_the_item_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let with = |key: &str, value: Value| {
        let mut a = answers(1);
        a[key] = value;
        a
    };
    let mut missing = answers(1);
    missing.as_object_mut().unwrap().remove("chase");
    let cases = [
        (1, with("thrill", json!(6)), "answer_out_of_range", Some("thrill")),
        (1, with("all_in", json!("yes")), "invalid_answer", Some("all_in")),
        (1, with("mood", json!(3)), "unknown_item", Some("mood")),
        (1, missing, "missing_answer", Some("chase")),
        (2, answers(1), "stale_quiz_version", None),
    ];
    for (version, answers, code, item) in cases {
        let (status, problem) = submit(&app, "careful", version, answers).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!((problem["code"].as_str(), problem["item"].as_str()), (Some(code), item), "{problem}");
    }
    let (status, problem) = app.call(reqwest::Method::POST, "/v1/quiz/submit", json!({"user_id": "x"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_submission"))
    );
    let stored = app.state.store.quiz_responses(&UserId::parse("careful").unwrap(), 10).await.unwrap();
    assert!(stored.is_empty(), "a refused submission stores nothing");
    app.stop().await;
}

/// `{"thrill": "x", …, "thrill": 5}` must not pass as the last value; a user no event ever
/// named is unknown here as on every other endpoint.
async fn a_repeated_item_and_an_unknown_user_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("twice", 10)]).await;
    // Built by hand: a JSON object with the key `thrill` twice.
    let body = r#"{"user_id": "twice", "quiz_version": 1, "answers": {"thrill": "x", "big_win": 5,
        "steady": 1, "all_in": true, "stop_rule": false, "chase": 5, "thrill": 5}}"#;
    let (status, problem) = app.post_raw("/v1/quiz/submit", &app.key, body.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        (problem["code"].as_str(), problem["item"].as_str()),
        (Some("duplicate_answer"), Some("thrill"))
    );
    let twice = UserId::parse("twice").unwrap();
    assert!(app.state.store.quiz_responses(&twice, 10).await.unwrap().is_empty(), "nothing stored");

    let (status, problem) = submit(&app, "stranger", 1, answers(1)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_user")),
        "{problem}"
    );
    let stranger = UserId::parse("stranger").unwrap();
    assert!(app.state.store.quiz_responses(&stranger, 10).await.unwrap().is_empty(), "nothing stored");
    // The same answer as the profile, the limits and PATCH give for that user.
    for (method, path, body) in [
        (reqwest::Method::GET, "/v1/users/stranger", Value::Null),
        (reqwest::Method::GET, "/v1/users/stranger/limits", Value::Null),
        (reqwest::Method::PATCH, "/v1/users/stranger", json!({"lang": "en"})),
    ] {
        let (status, problem) =
            if body.is_null() { app.get(path).await } else { app.call(method, path, body).await };
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("unknown_user")),
            "{path}"
        );
    }
    app.stop().await;
}
