//! The token economy: earned by source against spent by sink, per day and per month, and
//! the net flow into balances (the analytics API's `token_flow`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use playpulse_core::analytics::{Granularity, KpiTable, Metric};

use super::chart::{Series, figures, lines, stacked_bars};
use super::i18n::Lang;
use super::kpi::{kpi, last_days, numbers, rows, texts};
use super::layout::page;
use super::session::Operator;
use crate::AppState;

/// The flows drawn, by column: earned above zero, spent below.
pub(super) const FLOWS: [(&str, &str, f64); 7] = [
    ("earned_partner", "Partner A", 1.0),
    ("earned_app", "App", 1.0),
    ("earned_reward", "Rewards", 1.0),
    ("purchased", "Purchased", 1.0),
    ("spent_game", "Games", -1.0),
    ("spent_unlock", "Unlocks", -1.0),
    ("spent_item", "Items", -1.0),
];

pub async fn economy(State(state): State<AppState>, operator: Operator) -> Response {
    let lang = operator.lang;
    let daily = kpi(&state, lang, Metric::TokenFlow, last_days(&state, 30), Granularity::Day);
    let monthly = kpi(&state, lang, Metric::TokenFlow, last_days(&state, 365), Granularity::Month);
    let (daily, monthly) = match futures::try_join!(daily, monthly) {
        Ok(tables) => tables,
        Err(refused) => return refused,
    };
    page(
        &operator,
        "/dashboard/economy",
        lang.t("Economy"),
        html! {
            section.card {
                h2 { (lang.t("Day")) }
                (flows(lang, &daily))
            }
            section.card {
                h2 { (lang.t("Month")) }
                (flows(lang, &monthly))
            }
        },
    )
    .into_response()
}

fn flows(lang: Lang, table: &KpiTable) -> Markup {
    let labels = texts(table, "period");
    let series: Vec<Series> = FLOWS
        .iter()
        .map(|(column, name, sign)| Series {
            name: lang.t(name).to_owned(),
            values: numbers(table, column).into_iter().map(|v| v.map(|v| v * sign)).collect(),
        })
        .collect();
    let net = [Series { name: lang.t("Net token flow").to_owned(), values: numbers(table, "net_flow") }];
    html! {
        (stacked_bars(lang, lang.t("Earned by source and spent by sink"), &labels, &series))
        (lines(lang, lang.t("Net token flow"), &labels, &net))
        (figures(lang, &table.columns, &rows(lang, table)))
    }
}
