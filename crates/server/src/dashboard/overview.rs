//! The overview: this month's headline figures against last month's, each with its daily
//! trend over the last 60 days. The figures are the analytics API's at `granularity=month`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures::future::try_join_all;
use jiff::civil::Date;
use maud::html;
use playpulse_core::analytics::{Granularity, KpiTable, Metric};

use super::chart::{figures, sparkline};
use super::kpi::{kpi, last_days, numbers, texts, today};
use super::layout::page;
use super::session::Operator;
use crate::AppState;

/// A headline figure: its metric and column, and how to show it.
pub(super) struct Headline {
    pub(super) title: &'static str,
    metric: Metric,
    column: &'static str,
    show: Show,
}

#[derive(Clone, Copy)]
enum Show {
    Count,
    Share,
    Decimal,
}

pub(super) const HEADLINES: [Headline; 9] = [
    Headline { title: "Daily active users", metric: Metric::ActiveUsers, column: "dau", show: Show::Decimal },
    Headline { title: "Monthly active users", metric: Metric::ActiveUsers, column: "mau", show: Show::Count },
    Headline {
        title: "Stickiness (DAU/MAU)",
        metric: Metric::ActiveUsers,
        column: "stickiness",
        show: Show::Share,
    },
    Headline { title: "New users", metric: Metric::NewUsers, column: "new_users", show: Show::Count },
    Headline { title: "Churn rate", metric: Metric::Churn, column: "churn_rate", show: Show::Share },
    Headline { title: "Payers", metric: Metric::Revenue, column: "payers", show: Show::Count },
    Headline { title: "ARPDAU", metric: Metric::Revenue, column: "arpdau", show: Show::Decimal },
    Headline { title: "ARPPU", metric: Metric::Revenue, column: "arppu", show: Show::Decimal },
    Headline { title: "Net token flow", metric: Metric::TokenFlow, column: "net_flow", show: Show::Count },
];

const METRICS: [Metric; 5] =
    [Metric::ActiveUsers, Metric::NewUsers, Metric::Churn, Metric::Revenue, Metric::TokenFlow];

pub async fn overview(State(state): State<AppState>, operator: Operator) -> Response {
    let lang = operator.lang;
    let to = today(&state);
    let month_start = Date::new(to.year(), to.month(), 1).unwrap_or(to);
    let previous_start = month_start.checked_sub(jiff::Span::new().months(1)).unwrap_or(month_start);
    let monthly = METRICS.map(|m| kpi(&state, lang, m, (previous_start, to), Granularity::Month));
    let daily = METRICS.map(|m| kpi(&state, lang, m, last_days(&state, 60), Granularity::Day));
    let (monthly, daily) = match futures::try_join!(try_join_all(monthly), try_join_all(daily)) {
        Ok(tables) => tables,
        Err(refused) => return refused,
    };
    let show = |value: Option<f64>, how: Show| match (value, how) {
        (None, _) => "–".to_owned(),
        (Some(v), Show::Count) => lang.dec(v, 0),
        (Some(v), Show::Share) => lang.pct(v),
        (Some(v), Show::Decimal) => lang.dec(v, 2),
    };
    let this_month = month_start.strftime("%Y-%m").to_string();
    page(&operator, "/dashboard", lang.t("Overview"), html! {
        section.headlines {
            @for h in &HEADLINES {
                @let months = of(&monthly, h.metric);
                @let periods = texts(months, "period");
                @let values = numbers(months, h.column);
                @let now = periods.iter().position(|p| p.starts_with(&this_month)).and_then(|i| values[i]);
                @let before = periods.iter().position(|p| !p.starts_with(&this_month)).and_then(|i| values[i]);
                @let days = of(&daily, h.metric);
                article.card.headline {
                    h2 { (lang.t(h.title)) }
                    p.value { (show(now, h.show)) }
                    p.previous { (lang.t("Previous period")) ": " (show(before, h.show)) }
                    @let labels = texts(days, "period");
                    @let values = numbers(days, h.column);
                    (sparkline(lang, lang.t(h.title), &labels, &values))
                    (figures(lang, &[lang.t("Day").to_owned(), lang.t(h.title).to_owned()], &labels
                        .iter()
                        .zip(&values)
                        .map(|(day, v)| vec![day.clone(), show(*v, h.show)])
                        .collect::<Vec<_>>()))
                }
            }
        }
    })
    .into_response()
}

/// The table of `metric` among tables queried in the order of [`METRICS`].
fn of(tables: &[KpiTable], metric: Metric) -> &KpiTable {
    &tables[METRICS.iter().position(|m| *m == metric).expect("every headline's metric is queried")]
}
