//! Peak play hours: events by weekday and hour of the business zone over the last four
//! weeks (the analytics API's `peak_hours`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;
use playpulse_core::analytics::{Granularity, Metric};

use super::chart::{figures, heat_map};
use super::i18n::Lang;
use super::kpi::{integers, kpi, last_days, numbers, rows};
use super::layout::page;
use super::session::Operator;
use crate::AppState;

pub async fn hours(State(state): State<AppState>, operator: Operator) -> Response {
    let lang = operator.lang;
    let table = match kpi(&state, lang, Metric::PeakHours, last_days(&state, 28), Granularity::Day).await {
        Ok(table) => table,
        Err(refused) => return refused,
    };
    let mut cells = vec![vec![None; 24]; 7];
    let (days, hours, events) =
        (integers(&table, "weekday"), integers(&table, "business_hour"), numbers(&table, "events"));
    for ((day, hour), count) in days.into_iter().zip(hours).zip(events) {
        let day = day.and_then(|d| usize::try_from(d).ok()).filter(|d| *d < 7);
        let hour = hour.and_then(|h| usize::try_from(h).ok()).filter(|h| *h < 24);
        if let (Some(d), Some(h), Some(count)) = (day, hour, count) {
            cells[d][h] = Some(count);
        }
    }
    let weekdays: Vec<String> = weekday_names(lang).iter().map(|d| (*d).to_owned()).collect();
    let hour_labels: Vec<String> = (0..24).map(|h| h.to_string()).collect();
    page(
        &operator,
        "/dashboard/hours",
        lang.t("Peak hours"),
        html! {
            section.card {
                (heat_map(lang, lang.t("Peak hours"), &weekdays, &hour_labels, &cells, false))
                (figures(lang, &table.columns, &rows(lang, &table)))
            }
        },
    )
    .into_response()
}

/// Monday first, as the analytics API numbers them.
fn weekday_names(lang: Lang) -> [&'static str; 7] {
    match lang {
        Lang::Ko => ["월", "화", "수", "목", "금", "토", "일"],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
}
