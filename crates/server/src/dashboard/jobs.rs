//! Jobs: the latest runs of the scheduled jobs, how long they took, what they reported and
//! why the failed ones failed (as `GET /v1/jobs` lists them).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::kpi::when;
use super::layout::page;
use super::login::store_down;
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
                                @if let Some(error) = &run.error { span.problem { (error) } }
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
