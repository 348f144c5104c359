//! What `/metrics` exposes: the process's own counters and histograms, recorded where things
//! happen, and the store's figures (users, token supply, outbox backlog, jobs, pool), read
//! when Prometheus scrapes, at most once per refresh interval however many scrape.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use playpulse_core::tokens::Tokens;
use playpulse_store::{JobRun, JobStatus, StoreError};
use tokio::sync::Mutex;

use crate::AppState;

/// How often recorded samples are folded into the histograms when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);
/// Bucket bounds of every `*_seconds` histogram: requests (1 ms to 10 s) and nightly jobs.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];
/// Job runs read for the job gauges: far more than the jobs there are.
const JOB_RUNS_READ: usize = 200;

/// The process's metrics and when the store's figures were last read.
pub struct Monitoring {
    handle: PrometheusHandle,
    every: Duration,
    refreshed: Mutex<Option<Instant>>,
}

impl Monitoring {
    /// The process-wide recorder; the store's figures are read at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self { handle: handle(), every, refreshed: Mutex::new(None) }
    }

    /// The Prometheus text exposition, with the store's figures refreshed first if they are
    /// older than the interval. A store that fails to answer leaves the last figures and
    /// sets `playpulse_store_up` to 0.
    pub async fn render(&self, state: &AppState) -> String {
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_none_or(|at| at.elapsed() >= self.every) {
            let up = match refresh(state).await {
                Ok(()) => 1.0,
                Err(err) => {
                    tracing::warn!(error = %err, "store figures not read for /metrics");
                    0.0
                }
            };
            gauge!("playpulse_store_up").set(up);
            *refreshed = Some(Instant::now());
        }
        self.handle.render()
    }
}

/// Counts the tokens a committed change moved, per ledger reason.
pub fn record_flows(flows: &[(&'static str, Tokens)]) {
    for &(reason, Tokens(net)) in flows {
        let direction = if net >= 0 { "in" } else { "out" };
        metrics::counter!("playpulse_ledger_tokens_total", "reason" => reason, "direction" => direction)
            .increment(net.unsigned_abs());
    }
}

/// Counts one run of a scheduled job this process ran, and its duration.
pub fn record_job(job: &str, status: JobStatus, took: Duration) {
    let job = job.to_owned();
    metrics::counter!("playpulse_job_runs_total", "job_name" => job.clone(), "status" => status.as_str())
        .increment(1);
    metrics::histogram!("playpulse_job_duration_seconds", "job_name" => job).record(took.as_secs_f64());
}

/// Reads the store's figures (and Redis's health) into gauges.
async fn refresh(state: &AppState) -> Result<(), StoreError> {
    let now = state.clock.now();
    let pool = state.store.pool_use();
    gauge!("playpulse_db_connections", "state" => "in_use").set(pool.in_use as f64);
    gauge!("playpulse_db_connections", "state" => "max").set(pool.max as f64);
    gauge!("playpulse_db_waiting").set(pool.waiting as f64);
    if let Some(cache) = &state.cache {
        gauge!("playpulse_cache_up").set(if cache.ping().await { 1.0 } else { 0.0 });
        gauge!("playpulse_cache_degraded").set(if cache.is_degraded() { 1.0 } else { 0.0 });
    }
    let today = state.zone.start_of(state.zone.day_of(now)).unwrap_or(now);
    let vitals = state.store.vitals(today).await?;
    gauge!("playpulse_users").set(vitals.users as f64);
    gauge!("playpulse_users_active_today").set(vitals.active as f64);
    gauge!("playpulse_token_supply_tokens").set(vitals.token_supply as f64);
    gauge!("playpulse_outbox_pending").set(vitals.outbox_pending as f64);
    gauge!("playpulse_outbox_oldest_age_seconds").set(vitals.outbox_oldest.map_or(0.0, |t| seconds(now, t)));
    for segment in &state.product.segments {
        let members = vitals.segments.iter().find(|(name, _)| name == segment).map_or(0, |(_, n)| *n);
        gauge!("playpulse_segment_users", "segment" => segment.clone()).set(members as f64);
    }
    for job in latest_per_job(&state.store.job_runs(JOB_RUNS_READ).await?) {
        let name = job.latest.job.clone();
        let failed = job.latest.status == JobStatus::Failed;
        gauge!("playpulse_job_last_run_failed", "job_name" => name.clone()).set(if failed {
            1.0
        } else {
            0.0
        });
        if let Some(success) = job.success {
            let finished = success.finished_at.unwrap_or(success.started_at);
            gauge!("playpulse_job_last_success_timestamp_seconds", "job_name" => name.clone())
                .set(finished.as_millisecond() as f64 / 1000.0);
            gauge!("playpulse_job_last_duration_seconds", "job_name" => name)
                .set(seconds(finished, success.started_at));
        }
    }
    Ok(())
}

/// A job's latest run, and its latest successful one.
struct JobLatest<'a> {
    latest: &'a JobRun,
    success: Option<&'a JobRun>,
}

/// Runs come newest first: the first of each job is its latest.
fn latest_per_job(runs: &[JobRun]) -> Vec<JobLatest<'_>> {
    let mut jobs: Vec<JobLatest<'_>> = Vec::new();
    for run in runs {
        match jobs.iter_mut().find(|j| j.latest.job == run.job) {
            None => jobs.push(JobLatest {
                latest: run,
                success: (run.status == JobStatus::Succeeded).then_some(run),
            }),
            Some(job) if job.success.is_none() && run.status == JobStatus::Succeeded => {
                job.success = Some(run)
            }
            Some(_) => {}
        }
    }
    jobs
}

fn seconds(later: Timestamp, earlier: Timestamp) -> f64 {
    (later.as_millisecond() - earlier.as_millisecond()).max(0) as f64 / 1000.0
}

/// The process-wide Prometheus recorder, installed on first use.
fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe();
            // The recorder keeps every latency sample until they are folded into the
            // histograms, which only a scrape or an upkeep does: with nobody scraping,
            // memory grew with every request.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread can be started");
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!("playpulse_http_requests_total", "HTTP requests, by route, method and status.");
    describe_histogram!(
        "playpulse_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by route and method."
    );
    describe_counter!(
        "playpulse_ingest_events_total",
        "Events answered by ingest, by result and, for rejections, code."
    );
    describe_counter!(
        "playpulse_partner_events_total",
        "Events of partners' signed requests, by result and, for rejections, code."
    );
    describe_counter!(
        "playpulse_ledger_tokens_total",
        "Tokens moved by committed ledger entries, by reason and direction (in: earned, out: spent)."
    );
    describe_counter!(
        "playpulse_content_unlocks_total",
        "Content unlock requests that unlocked or were refused, by result."
    );
    describe_counter!(
        "playpulse_cache_errors_total",
        "Hot-cache (Redis) calls that failed and fell back to the DB, by operation."
    );
    describe_gauge!("playpulse_cache_up", "1 when Redis answered a PING at the last refresh.");
    describe_gauge!("playpulse_cache_degraded", "1 while reads bypass the cache after a failed write.");
    describe_gauge!("playpulse_store_up", "1 when the store answered the last figures read.");
    describe_gauge!("playpulse_db_connections", "Connections of the store's pool, in use and at most.");
    describe_gauge!("playpulse_db_waiting", "Callers waiting for a store connection (PostgreSQL).");
    describe_gauge!("playpulse_users", "Users the store has seen.");
    describe_gauge!("playpulse_users_active_today", "Users who acted since the business day began.");
    describe_gauge!("playpulse_token_supply_tokens", "Tokens held by all users together.");
    describe_gauge!("playpulse_outbox_pending", "Notifications in the outbox not yet delivered.");
    describe_gauge!(
        "playpulse_outbox_oldest_age_seconds",
        Unit::Seconds,
        "How long the most overdue notification has been due (0 when none is overdue)."
    );
    describe_counter!(
        "playpulse_notifications_total",
        "Notifications this process handled, by channel and outcome (sent, failed, dead, suppressed, deferred)."
    );
    describe_gauge!("playpulse_segment_users", "Users per segment as of the latest nightly batch.");
    describe_counter!("playpulse_job_runs_total", "Scheduled job runs this process made, by job and status.");
    describe_histogram!(
        "playpulse_job_duration_seconds",
        Unit::Seconds,
        "Duration of scheduled job runs this process made, by job."
    );
    describe_gauge!("playpulse_job_last_run_failed", "1 when the job's latest run (any instance) failed.");
    describe_gauge!(
        "playpulse_job_last_success_timestamp_seconds",
        "When the job last succeeded (any instance), in Unix seconds."
    );
    describe_gauge!(
        "playpulse_job_last_duration_seconds",
        Unit::Seconds,
        "How long the job's latest successful run took."
    );
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn run(id: i64, job: &str, status: JobStatus) -> JobRun {
        JobRun {
            id,
            job: job.into(),
            as_of: date(2026, 5, 1),
            status,
            started_at: Timestamp::from_second(id).unwrap(),
            finished_at: None,
            rows: None,
            detail: None,
            error: None,
        }
    }

    #[test]
    fn each_job_has_its_latest_run_and_its_latest_success() {
        use JobStatus::{Failed, Running, Succeeded};
        let runs = [
            run(6, "nightly", Failed),
            run(5, "export", Running),
            run(4, "nightly", Succeeded),
            run(3, "export", Failed),
            run(2, "nightly", Succeeded),
        ];
        let jobs = latest_per_job(&runs);
        let found: Vec<_> = jobs.iter().map(|j| (j.latest.id, j.success.map(|s| s.id))).collect();
        assert_eq!(found, [(6, Some(4)), (5, None)]);
    }
}
