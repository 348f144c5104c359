//! Proposals: the funnel by type and variant over the last 30 days (the analytics API's
//! `proposal_funnel`), and what the learning loop now gives each variant in each segment.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;
use playpulse_core::analytics::{Granularity, Metric};
use playpulse_policy::proposals::Kind;

use super::kpi::{kpi, last_days, rows};
use super::layout::page;
use super::session::Operator;
use crate::AppState;

pub async fn proposals(State(state): State<AppState>, operator: Operator) -> Response {
    let lang = operator.lang;
    let funnel =
        match kpi(&state, lang, Metric::ProposalFunnel, last_days(&state, 30), Granularity::Day).await {
            Ok(table) => table,
            Err(refused) => return refused,
        };
    let learned = state.learned();
    let policy = &state.product.proposals;
    page(&operator, "/dashboard/proposals", lang.t("Proposals"), html! {
        section.card {
            h2 { (lang.t("Funnel by type and variant")) }
            table {
                thead { tr { @for c in &funnel.columns { th { (c) } } } }
                tbody { @for row in rows(lang, &funnel) { tr { @for cell in row { td { (cell) } } } } }
            }
        }
        section.card {
            h2 { (lang.t("Learned weights")) }
            table {
                thead { tr {
                    th { (lang.t("Segment")) } th { (lang.t("Type")) } th { (lang.t("Variant")) }
                    th.num { (lang.t("Weight")) } th.num { (lang.t("Impressions")) } th.num { (lang.t("Conversions")) }
                } }
                tbody {
                    @for segment in &state.product.segments {
                        @for kind in Kind::ALL {
                            @let variants = policy.variants(kind);
                            @let weights = learned.probabilities(segment, kind, variants.len());
                            @for (i, variant) in variants.iter().enumerate() {
                                @let stats = learned.stats(segment, kind, i);
                                tr {
                                    td { (segment) } td { (kind.as_str()) } td { (variant.variant) }
                                    td.num { (lang.pct(weights[i])) }
                                    td.num { (lang.int(stats.impressions as i64)) }
                                    td.num { (lang.int(stats.conversions as i64)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
    .into_response()
}
