//! Job runs: a night is claimed once.

use jiff::SignedDuration;
use jiff::civil::date;
use playpulse_store::{JobOutcome, JobStatus};
use serde_json::json;

use crate::{Fixture, now, on_both};

on_both!(a_night_is_claimed_once_until_it_fails_or_goes_stale);

async fn a_night_is_claimed_once_until_it_fails_or_goes_stale(f: &Fixture) {
    let s = f.store();
    let (day, t0) = (date(2027, 1, 1), now());
    let stale_before = t0 - SignedDuration::from_hours(1);
    let run = s.claim_job("nightly", day, t0, stale_before).await.unwrap().expect("the first claim wins");
    assert_eq!(s.claim_job("nightly", day, t0, stale_before).await.unwrap(), None, "running");
    assert!(s.claim_job("other", day, t0, stale_before).await.unwrap().is_some(), "jobs are apart");
    s.finish_job(run, t0, JobOutcome::Failed { error: "disk full".into() }).await.unwrap();
    let retry =
        s.claim_job("nightly", day, t0, stale_before).await.unwrap().expect("a failed night is retaken");
    let much_later = t0 + SignedDuration::from_hours(3);
    let taken_over = s
        .claim_job("nightly", day, much_later, much_later - SignedDuration::from_hours(1))
        .await
        .unwrap()
        .expect("a stale run is retaken");
    assert_eq!(taken_over, retry, "one row per night");
    s.finish_job(taken_over, much_later, JobOutcome::Succeeded { rows: 7, detail: json!({"users": 7}) })
        .await
        .unwrap();
    assert_eq!(s.claim_job("nightly", day, much_later, much_later).await.unwrap(), None, "done is done");
    let runs = s.job_runs(10).await.unwrap();
    let nightly = runs.iter().find(|r| r.job == "nightly").unwrap();
    assert_eq!((nightly.status, nightly.rows, nightly.as_of), (JobStatus::Succeeded, Some(7), day));
    assert_eq!(nightly.detail, Some(json!({"users": 7})));
    assert_eq!(nightly.error, None, "a retaken run forgets the old failure");
    assert_eq!(runs.iter().find(|r| r.job == "other").unwrap().status, JobStatus::Running);
    assert_eq!(s.job_runs(1).await.unwrap().len(), 1);
    assert_eq!(s.job_run(nightly.id).await.unwrap().as_ref(), Some(nightly));
    assert_eq!(s.job_run(-1).await.unwrap(), None);
}
