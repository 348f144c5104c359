//! Segments: the mix over the last 30 nights, the moves between segments since the night
//! before, the users between bands, and each segment's members.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use playpulse_core::analytics::{Granularity, Metric};
use playpulse_core::ids::UserId;
use serde::Deserialize;
use serde_json::Value;

use super::chart::{Series, figures, heat_map, stacked_bars};
use super::kpi::{kpi, last_days, numbers, rows, texts};
use super::layout::page;
use super::login::store_down;
use super::session::Operator;
use crate::AppState;

/// Members shown per page.
const MEMBERS_PAGE: usize = 50;

#[derive(Deserialize)]
pub struct Members {
    segment: Option<String>,
    after: Option<String>,
}

pub async fn segments(
    State(state): State<AppState>,
    operator: Operator,
    Query(members): Query<Members>,
) -> Response {
    let lang = operator.lang;
    let range = last_days(&state, 30);
    let mix = kpi(&state, lang, Metric::SegmentMix, range, Granularity::Day);
    let moves = kpi(&state, lang, Metric::Transitions, range, Granularity::Day);
    let (mix, moves) = match futures::try_join!(mix, moves) {
        Ok(tables) => tables,
        Err(refused) => return refused,
    };
    let names = &state.product.segments;
    let nights: Vec<String> = {
        let mut all = texts(&mix, "night");
        all.dedup();
        all
    };
    let (mix_nights, mix_segments, mix_users) =
        (texts(&mix, "night"), texts(&mix, "segment"), numbers(&mix, "users"));
    let series: Vec<Series> = names
        .iter()
        .map(|name| Series {
            name: name.clone(),
            values: nights
                .iter()
                .map(|night| {
                    (0..mix_users.len())
                        .find(|&i| &mix_nights[i] == night && &mix_segments[i] == name)
                        .and_then(|i| mix_users[i])
                })
                .collect(),
        })
        .collect();
    // The latest night's moves, as a matrix from (rows) → to (columns).
    let latest = texts(&moves, "night").into_iter().max();
    let (move_nights, from, to, users) = (
        texts(&moves, "night"),
        texts(&moves, "from_segment"),
        texts(&moves, "to_segment"),
        numbers(&moves, "users"),
    );
    let matrix: Vec<Vec<Option<f64>>> = names
        .iter()
        .map(|f| {
            names
                .iter()
                .map(|t| {
                    (0..users.len())
                        .find(|&i| Some(&move_nights[i]) == latest.as_ref() && &from[i] == f && &to[i] == t)
                        .and_then(|i| users[i])
                })
                .collect()
        })
        .collect();
    let runs = match state.store.job_runs(20).await {
        Ok(runs) => runs,
        Err(err) => return store_down(lang, err),
    };
    let between = runs
        .iter()
        .find_map(|r| r.detail.as_ref().and_then(|d| d.get("between_bands")).and_then(Value::as_i64));
    // By default the largest segment of the latest night.
    let latest_users = |s: &Series| s.values.last().copied().flatten().unwrap_or(0.0);
    let largest = series.iter().max_by(|a, b| latest_users(a).total_cmp(&latest_users(b)));
    let chosen = members
        .segment
        .filter(|s| names.contains(s))
        .or_else(|| largest.map(|s| s.name.clone()))
        .unwrap_or_else(|| state.product.fallback_segment.clone());
    let after = members.after.as_deref().and_then(|a| UserId::parse(a).ok());
    let listed = match state.store.segment_members(&chosen, after.as_ref(), MEMBERS_PAGE).await {
        Ok(listed) => listed,
        Err(err) => return store_down(lang, err),
    };
    page(&operator, "/dashboard/segments", lang.t("Segments"), html! {
        section.card {
            h2 { (lang.t("Mix over time")) }
            (stacked_bars(lang, lang.t("Mix over time"), &nights, &series))
            (figures(lang, &mix.columns, &rows(lang, &mix)))
        }
        section.card {
            h2 { (lang.t("Transitions since the previous night")) " " @if let Some(night) = &latest { "(" (night) ")" } }
            (heat_map(lang, lang.t("Transitions since the previous night"), names, names, &matrix, false))
            (figures(lang, &moves.columns, &rows(lang, &moves)))
            p { (lang.t("Between bands")) ": " (between.map_or("–".to_owned(), |n| lang.int(n))) }
        }
        section.card {
            h2 { (lang.t("Members")) }
            nav.tabs {
                @for name in names {
                    a href={ "/dashboard/segments?segment=" (name) } aria-current=[(name == &chosen).then_some("true")] { (name) }
                }
            }
            table {
                thead { tr {
                    th { (lang.t("User id")) } th.num { "R" } th.num { "F" } th.num { "M" }
                    th.num { (lang.t("Balance")) } th { (lang.t("Since")) }
                } }
                tbody {
                    @for (user, s) in &listed {
                        tr {
                            td { a href={ "/dashboard/users?id=" (user) } { (user) } }
                            td.num { (lang.int(s.rfm.recency_days)) }
                            td.num { (lang.int(s.rfm.frequency)) }
                            td.num { (lang.int(s.rfm.monetary)) }
                            td.num { (lang.int(s.balance)) }
                            td { (s.since) }
                        }
                    }
                }
            }
            @if listed.len() == MEMBERS_PAGE {
                @if let Some((last, _)) = listed.last() {
                    p { a href={ "/dashboard/segments?segment=" (chosen) "&after=" (last) } { (lang.t("Next page")) } }
                }
            }
        }
    })
    .into_response()
}
