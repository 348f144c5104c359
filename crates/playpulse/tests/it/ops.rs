//! Health, readiness, metrics, the OpenAPI document and unknown routes.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{Backend, TestApp, decode, earn};

on_both_backends!(operator_endpoints_answer, openapi_lists_every_route);

async fn operator_endpoints_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("hal", 3)]).await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.base)).send();

    let health: Value = get("/healthz").await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["cache"], if backend == Backend::Postgres { "ok" } else { "none" });

    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("playpulse_ingest_events_total{result=\"accepted\"}"), "{metrics}");
    assert!(metrics.contains("playpulse_http_request_duration_seconds"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/events\""), "{metrics}");

    let response = get("/v2/nothing").await.unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 36, "every answer carries a request id");
    let (status, problem) = decode(response).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    app.stop().await;
}

/// The served document is generated from the handlers and names every `/v1` route.
async fn openapi_lists_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value =
        app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    let paths: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let expected = BTreeSet::from([
        "/v1/analytics/notification_effects",
        "/v1/analytics/retention",
        "/v1/analytics/{metric}",
        "/v1/content",
        "/v1/content/{content_id}",
        "/v1/content/{content_id}/versions",
        "/v1/events",
        "/v1/games",
        "/v1/jobs",
        "/v1/notifications/{id}/retry",
        "/v1/partners/{partner_id}/events",
        "/v1/partners/{partner_id}/summary",
        "/v1/quiz",
        "/v1/quiz/submit",
        "/v1/segments/{name}/members",
        "/v1/users/{user_id}",
        "/v1/users/{user_id}/balance",
        "/v1/users/{user_id}/content",
        "/v1/users/{user_id}/content/{content_id}/unlock",
        "/v1/users/{user_id}/devices",
        "/v1/users/{user_id}/export",
        "/v1/users/{user_id}/ledger",
        "/v1/users/{user_id}/limits",
        "/v1/users/{user_id}/notifications",
        "/v1/users/{user_id}/recommendations",
        "/v1/users/{user_id}/scores",
        "/v1/users/{user_id}/tokens",
    ]);
    assert_eq!(paths, expected);
    let user = doc["paths"]["/v1/users/{user_id}"].as_object().unwrap();
    assert_eq!(
        user.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["delete", "get", "patch"])
    );
    // Every metric is documented by name.
    let parameters = doc["paths"]["/v1/analytics/{metric}"]["get"]["parameters"].as_array().unwrap();
    let metric =
        parameters.iter().find(|p| p["name"] == "metric").unwrap_or_else(|| panic!("{parameters:?}"));
    let metrics: BTreeSet<&str> = metric["schema"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{metric}"))
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let names: BTreeSet<&str> = playpulse_core::analytics::Metric::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(metrics, names);
    // Every documented route is live: with a key, none answers "no such route".
    for path in &paths {
        let live = path
            .replace("{user_id}", "zed")
            .replace("{name}", "Low")
            .replace("{metric}", "churn")
            .replace("{partner_id}", "partner-a")
            .replace("{content_id}", "c1");
        let response =
            app.client.get(format!("{}{live}", app.base)).bearer_auth(&app.key).send().await.unwrap();
        let (_, body) = decode(response).await;
        assert_ne!(body["code"], "not_found", "{path}");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    // Every operation documents the refusals of the layers around it, each a problem.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["401", "403", "408", "429"] {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
            if operation.get("requestBody").is_some() {
                assert!(responses.contains_key("413"), "{method} {path} lacks 413");
            }
            for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('4')) {
                let response = match response["$ref"].as_str() {
                    Some(name) => &doc["components"]["responses"][name.rsplit('/').next().unwrap()],
                    None => response,
                };
                let content =
                    response["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {status}"));
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
            }
        }
    }
    app.stop().await;
}
