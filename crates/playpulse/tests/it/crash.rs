//! Durability of the real binary: SIGKILL mid-stream loses nothing acknowledged, a re-send
//! counts nothing twice, and SIGTERM finishes in-flight requests before exiting.

use std::collections::HashSet;
use std::process::Command;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::binary::Target;
use crate::on_both_backends;
use crate::support::{Backend, earn, spend, statuses};

on_both_backends!(sigkill_loses_no_acknowledged_event, sigterm_finishes_in_flight_requests);

const USERS: usize = 50;
const BATCHES: usize = 120;

/// Batch `n`: every user earns 5 and spends 3, so any subset of batches is valid in any order.
fn batches() -> Vec<Value> {
    (0..BATCHES)
        .map(|_| {
            let events: Vec<Value> =
                (0..USERS).flat_map(|u| [earn(&format!("d{u}"), 5), spend(&format!("d{u}"), 3)]).collect();
            json!({ "events": events })
        })
        .collect()
}

async fn post(client: &reqwest::Client, base: &str, key: &str, batch: &Value) -> Option<Vec<String>> {
    let response = client.post(format!("{base}/v1/events")).bearer_auth(key).json(batch).send().await.ok()?;
    let answer: Value = response.json().await.ok()?;
    Some(statuses(&answer))
}

async fn sigkill_loses_no_acknowledged_event(backend: Backend) {
    let target = Target::new(backend).await;
    let key = target.key();
    let batches = batches();
    let client = reqwest::Client::new();
    let mut server = target.serve().await;

    // Stream batches four at a time; kill the server once 40 are acknowledged.
    let mut acked = HashSet::new();
    let mut answers = futures::stream::iter(batches.iter().enumerate())
        .map(|(i, batch)| {
            let (client, base, key) = (&client, server.base.clone(), key.clone());
            async move { (i, post(client, &base, &key, batch).await) }
        })
        .buffer_unordered(4);
    while let Some((i, answer)) = answers.next().await {
        if let Some(statuses) = answer {
            assert!(statuses.iter().all(|s| s == "accepted"), "batch {i}: {statuses:?}");
            acked.insert(i);
        }
        if acked.len() == 40 {
            server.child.kill().unwrap();
            server.child.wait().unwrap();
        }
    }
    drop(answers);
    assert!(acked.len() >= 40 && acked.len() < BATCHES, "the kill came mid-stream: {}", acked.len());

    // Restart and re-send everything: acknowledged batches are all duplicates.
    let mut server = target.serve().await;
    for (i, batch) in batches.iter().enumerate() {
        let statuses = post(&client, &server.base, &key, batch).await.expect("the restarted server answers");
        if acked.contains(&i) {
            assert!(
                statuses.iter().all(|s| s == "duplicate"),
                "acknowledged batch {i} was lost: {statuses:?}"
            );
        } else {
            // Committed-but-unanswered batches come back as duplicates, the rest as accepted.
            let first = &statuses[0];
            assert!(statuses.iter().all(|s| s == first) && (first == "accepted" || first == "duplicate"));
        }
    }
    for u in 0..USERS {
        let body: Value = client
            .get(format!("{}/v1/users/d{u}/balance", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["balance"], (BATCHES * 2) as i64, "user d{u}: every batch counted exactly once");
        assert_eq!(body["version"], (BATCHES * 2) as i64);
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

async fn sigterm_finishes_in_flight_requests(backend: Backend) {
    let target = Target::new(backend).await;
    let key = target.key();
    let batches = batches();
    let client = reqwest::Client::new();
    let mut server = target.serve().await;
    let pid = server.child.id().to_string();

    let mut acked = Vec::new();
    let mut answers = futures::stream::iter(batches.iter().enumerate())
        .map(|(i, batch)| {
            let (client, base, key) = (&client, server.base.clone(), key.clone());
            async move { (i, post(client, &base, &key, batch).await) }
        })
        .buffer_unordered(4);
    let mut signalled = false;
    while let Some((i, answer)) = answers.next().await {
        if let Some(statuses) = answer {
            assert!(statuses.iter().all(|s| s == "accepted"), "batch {i}: {statuses:?}");
            acked.push(i);
        }
        if acked.len() == 20 && !signalled {
            signalled = true;
            assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        }
    }
    drop(answers);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
    assert!(acked.len() >= 20);

    let server = target.serve().await;
    let mut duplicates = 0;
    for (i, batch) in batches.iter().enumerate() {
        let statuses = post(&client, &server.base, &key, batch).await.unwrap();
        if acked.contains(&i) {
            assert!(statuses.iter().all(|s| s == "duplicate"), "acknowledged batch {i} was lost");
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, acked.len());
    let mut child = server.child;
    child.kill().unwrap();
    child.wait().unwrap();
}
