//! Cohort retention as a heat map: daily, weekly or monthly cohorts, returns in exactly the
//! Nth period or in it or later (the analytics API's `retention`, first-time cohorts, any
//! event).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use playpulse_core::analytics::{Activity, Granularity, Population, RetentionQuery};
use serde::Deserialize;

use super::chart::{figures, heat_map};
use super::kpi::{last_days, unavailable};
use super::layout::page;
use super::session::Operator;
use crate::AppState;
use crate::analytics::retention::offsets;

#[derive(Deserialize)]
pub struct View {
    granularity: Option<String>,
    after: Option<String>,
}

pub async fn retention(
    State(state): State<AppState>,
    operator: Operator,
    Query(view): Query<View>,
) -> Response {
    let lang = operator.lang;
    let granularity = view.granularity.as_deref().and_then(Granularity::parse).unwrap_or(Granularity::Day);
    let on_or_after = view.after.as_deref() == Some("1");
    let days = match granularity {
        Granularity::Day => 30,
        Granularity::Week => 12 * 7,
        Granularity::Month => 365,
    };
    let (from, to) = last_days(&state, days);
    let query = RetentionQuery {
        granularity,
        from,
        to,
        last_day: to,
        start: Activity::Any,
        returns: Activity::Any,
        recurring: false,
        offsets: offsets(granularity),
        population: Population::All,
    };
    let cohorts = match state.analytics.retention(query).await {
        Ok(cohorts) => cohorts,
        Err(err) => return unavailable(lang, err),
    };
    let periods = offsets(granularity);
    let columns: Vec<String> = periods.iter().map(|p| p.to_string()).collect();
    let labels: Vec<String> =
        cohorts.iter().map(|c| format!("{} ({})", c.start, lang.int(c.users))).collect();
    let share = |n: i64, of: i64| if of > 0 { n as f64 / of as f64 } else { 0.0 };
    let cells: Vec<Vec<Option<f64>>> = cohorts
        .iter()
        .map(|c| {
            periods
                .iter()
                .map(|p| {
                    let cell = c.periods.iter().find(|r| r.offset == *p)?;
                    let n = if on_or_after { cell.on_or_after } else { cell.exact };
                    Some(share(n, c.users))
                })
                .collect()
        })
        .collect();
    let mut head = vec![lang.t("Cohort").to_owned(), lang.t("Users").to_owned()];
    head.extend(columns.iter().cloned());
    let table: Vec<Vec<String>> = cohorts
        .iter()
        .zip(&cells)
        .map(|(c, row)| {
            let mut line = vec![c.start.to_string(), lang.int(c.users)];
            line.extend(row.iter().map(|v| v.map(|v| lang.pct(v)).unwrap_or_default()));
            line
        })
        .collect();
    let link =
        |g: &str, after: bool| format!("/dashboard/retention?granularity={g}&after={}", u8::from(after));
    let name = match granularity {
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    };
    let title = if on_or_after { lang.t("In period N or later") } else { lang.t("Exactly in period N") };
    page(&operator, "/dashboard/retention", lang.t("Retention"), html! {
        nav.tabs {
            @for (g, text) in [("day", lang.t("Day")), ("week", lang.t("Week")), ("month", lang.t("Month"))] {
                a href=(link(g, on_or_after)) aria-current=[(g == name).then_some("true")] { (text) }
            }
            span.sep {}
            a href=(link(name, false)) aria-current=[(!on_or_after).then_some("true")] { (lang.t("Exactly in period N")) }
            a href=(link(name, true)) aria-current=[on_or_after.then_some("true")] { (lang.t("In period N or later")) }
        }
        section.card {
            h2 { (title) }
            (heat_map(lang, title, &labels, &columns, &cells, true))
            (figures(lang, &head, &table))
        }
    })
    .into_response()
}
