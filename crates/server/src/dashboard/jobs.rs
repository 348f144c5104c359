//! Jobs: the latest runs of the scheduled jobs, how long they took, what they reported and
//! why the failed ones failed (as `GET /v1/jobs` lists them); an admin can run a failed one
//! again.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use playpulse_core::operators::Role;
use playpulse_store::JobStatus;

use super::kpi::when;
use super::layout::{Refusal, page};
use super::login::{CsrfForm, sent_csrf, store_down};
use super::session::Operator;
use crate::AppState;

/// Runs listed.
const RUNS: usize = 60;

pub async fn jobs(State(state): State<AppState>, operator: Operator) -> Response {
    let lang = operator.lang;
    let runs = match state.store.job_runs(RUNS).await {
        Ok(runs) => runs,
        Err(err) => return store_down(lang, err),
    };
    let admin = operator.role == Role::Admin;
    page(&operator, "/dashboard/jobs", lang.t("Jobs"), html! {
        section.card {
            h2 { (lang.t("Nightly runs")) }
            table {
                thead { tr {
                    th { (lang.t("Jobs")) } th { (lang.t("Night")) } th { (lang.t("Status")) } th { (lang.t("Started")) }
                    th.num { (lang.t("Duration")) } th.num { (lang.t("Rows")) } th { (lang.t("Report")) }
                } }
                tbody {
                    @for run in &runs {
                        tr.(run.status.as_str()) {
                            td { (run.job) }
                            td { (run.as_of) }
                            td { (run.status.as_str()) }
                            td { (when(&state, run.started_at)) }
                            td.num { @if let Some(end) = run.finished_at {
                                (lang.dec((end.as_millisecond() - run.started_at.as_millisecond()) as f64 / 1000.0, 1)) " s"
                            } }
                            td.num { @if let Some(rows) = run.rows { (lang.int(rows)) } }
                            td {
                                @if let Some(error) = &run.error {
                                    span.problem { (error) }
                                    @if admin && run.status == JobStatus::Failed {
                                        form.inline method="post" action={ "/dashboard/jobs/" (run.id) "/retry" } {
                                            input type="hidden" name="csrf" value=(operator.csrf);
                                            button type="submit" { (lang.t("Run again")) }
                                        }
                                    }
                                }
                                @else if let Some(detail) = &run.detail { code { (detail.to_string()) } }
                            }
                        }
                    }
                }
            }
        }
    })
    .into_response()
}

/// Runs a failed job run again: an admin's action, with the session's CSRF token. The run is
/// claimed as the schedule claims it, so a run another instance took meanwhile is left alone.
pub async fn retry(
    State(state): State<AppState>,
    operator: Operator,
    Path(run_id): Path<i64>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let lang = operator.lang;
    if let Err(refused) = operator.admin_action(sent_csrf(&form)) {
        return refused.into_response();
    }
    let run = match state.store.job_run(run_id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            return Refusal::new(lang, StatusCode::NOT_FOUND, "unknown_run", "No job run has that id.")
                .into_response();
        }
        Err(err) => return store_down(lang, err),
    };
    if run.status != JobStatus::Failed {
        let text = "Only a failed run can be run again.";
        return Refusal::new(lang, StatusCode::CONFLICT, "run_not_failed", text).into_response();
    }
    if let Err(err) = state.jobs.start(&run.job, run.as_of) {
        tracing::warn!(error = %err, "a job run was not started");
        let text = "This job cannot be run from the dashboard.";
        return Refusal::new(lang, StatusCode::CONFLICT, "job_not_runnable", text).into_response();
    }
    tracing::info!(operator = %operator.name, job = %run.job, night = %run.as_of, "job run again from the dashboard");
    Redirect::to("/dashboard/jobs").into_response()
}
