//! User lookup: the profile and balance (as `GET /v1/users/{id}` shows them), the ledger a
//! page at a time, the segment with its R/F/M and its history, the risk profile, the
//! proposals the policy makes now with their reasons, harm markers and limits.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use playpulse_core::ids::UserId;
use playpulse_core::operators::Role;
use serde::Deserialize;

use super::kpi::when;
use super::layout::{Refusal, page};
use super::login::store_down;
use super::session::Operator;
use crate::AppState;
use crate::limits::{LimitsChange, change_limits};
use crate::recommendations::recommendations_of;
use crate::users::profile_of;

/// Ledger entries per page.
const LEDGER_PAGE: usize = 20;

#[derive(Deserialize)]
pub struct Lookup {
    id: Option<String>,
    before: Option<i64>,
}

pub async fn users(
    State(state): State<AppState>,
    operator: Operator,
    Query(lookup): Query<Lookup>,
) -> Response {
    let lang = operator.lang;
    let id = lookup.id.unwrap_or_default();
    let search = html! {
        form.card.search method="get" action="/dashboard/users" {
            label { (lang.t("User id")) input name="id" value=(id) required; }
            button type="submit" { (lang.t("Find")) }
        }
    };
    let title = lang.t("Users");
    if id.is_empty() {
        return page(&operator, "/dashboard/users", title, search).into_response();
    }
    let found = match UserId::parse(&id) {
        Ok(user) => state.store.user(&user).await,
        Err(_) => Ok(None),
    };
    let record = match found {
        Ok(Some(record)) => record,
        Ok(None) => {
            let body = html! { (search) p.problem role="alert" { (lang.t("No user has that id.")) } };
            return page(&operator, "/dashboard/users", title, body).into_response();
        }
        Err(err) => return store_down(lang, err),
    };
    let user = record.user.clone();
    let ledger = state.store.ledger(&user, lookup.before, LEDGER_PAGE);
    let history = state.store.segment_history(&user);
    let (ledger, history) = match futures::try_join!(ledger, history) {
        Ok(found) => found,
        Err(err) => return store_down(lang, err),
    };
    let today = state.zone.day_of(state.clock.now());
    let markers =
        record.state.tally.markers(&record.state.limits, &state.product.harm, today, state.clock.now());
    let limits = record.state.limits;
    let (first_seen, last_action) =
        (when(&state, record.state.first_seen), when(&state, record.state.last_action));
    let offers = recommendations_of(&state, &record);
    let profile = profile_of(&state, record);
    let yes_no = |b: bool| if b { lang.t("yes") } else { lang.t("no") };
    page(&operator, "/dashboard/users", title, html! {
        (search)
        section.figures {
            (figure(lang.t("Balance"), lang.int(profile.balance)))
            (figure(lang.t("Streak (days)"), lang.int(i64::from(profile.streak_days))))
            (figure(lang.t("Segment"), profile.segment.as_ref().map_or("–".into(), |s| s.name.clone())))
            (figure(lang.t("Risk profile"), profile.risk_profile.unwrap_or("–").to_owned()))
        }
        section.card {
            h2 { (profile.user_id) }
            dl.facts {
                dt { (lang.t("First seen")) } dd { (first_seen) }
                dt { (lang.t("Last action")) } dd { (last_action) }
                dt { (lang.t("Age verified")) } dd { (yes_no(profile.age_verified)) }
                @if let Some(s) = &profile.segment {
                    dt { "R / F / M" } dd { (lang.int(s.recency_days)) " / " (lang.int(s.frequency)) " / " (lang.int(s.monetary)) }
                    dt { (lang.t("Since")) } dd { (s.since) }
                }
                dt { (lang.t("Harm markers")) } dd { @let on = markers.names(); @if on.is_empty() { "–" } @else { (on.join(", ")) } }
                dt { (lang.t("Limits")) } dd {
                    (lang.t("Daily spend")) ": " (limits.daily_spend_tokens.map_or("–".into(), |n| lang.int(n)))
                    @if let Some(t) = limits.cool_off_until { " · " (lang.t("Cool-off until")) " " (when(&state, t)) }
                    @if let Some(t) = limits.excluded_until { " · " (lang.t("Excluded until")) " " (when(&state, t)) }
                }
            }
        }
        @if operator.role == Role::Admin {
            form.card.limits method="post" action={ "/dashboard/users/" (user) "/limits" } {
                h2 { (lang.t("Set limits at the user's request")) }
                input type="hidden" name="csrf" value=(operator.csrf);
                label { (lang.t("Daily spend")) input name="daily_spend_tokens" inputmode="numeric"
                    value=[limits.daily_spend_tokens]; }
                label { (lang.t("Cool-off until")) input name="cool_off_until" placeholder="2026-12-31T00:00:00Z"
                    value=[limits.cool_off_until]; }
                label { (lang.t("Excluded until")) input name="excluded_until" placeholder="2027-06-30T00:00:00Z"
                    value=[limits.excluded_until]; }
                button type="submit" { (lang.t("Save")) }
            }
        }
        section.card {
            h2 { (lang.t("Proposals")) @if offers.protective { " (" (lang.t("protective policy")) ")" } }
            p { (offers.recommended_game) " — " (offers.game_reason) }
            table {
                thead { tr { th { (lang.t("Type")) } th { (lang.t("Variant")) } th { "" } th { (lang.t("Reason")) } } }
                tbody { @for p in &offers.proposals { tr { td { (p.kind) } td { (p.variant) } td { (p.text) } td { (p.reason) } } } }
            }
        }
        section.card {
            h2 { (lang.t("Ledger")) }
            table {
                thead { tr {
                    th { (lang.t("When")) } th { (lang.t("Reason")) } th.num { (lang.t("Change")) } th.num { (lang.t("Balance after")) }
                } }
                tbody {
                    @for e in &ledger {
                        tr { td { (when(&state, e.ts)) } td { (e.reason) } td.num { (lang.int(e.delta.0)) } td.num { (lang.int(e.balance_after.0)) } }
                    }
                }
            }
            @if ledger.len() == LEDGER_PAGE {
                @if let Some(last) = ledger.last() {
                    p { a href={ "/dashboard/users?id=" (user) "&before=" (last.entry_id) } { (lang.t("Older entries")) } }
                }
            }
        }
        section.card {
            h2 { (lang.t("Segment history")) }
            table {
                thead { tr { th { (lang.t("Night")) } th { (lang.t("From")) } th { (lang.t("To")) } } }
                tbody { @for c in history.iter().rev() { tr { td { (c.as_of) } td { (c.previous.as_deref().unwrap_or("–")) } td { (c.segment) } } } }
            }
        }
    })
    .into_response()
}

fn figure(label: &str, value: String) -> Markup {
    html! { div.figure { span.label { (label) } span.value { (value) } } }
}

/// The limits form: empty fields are no limit.
#[derive(Deserialize)]
pub struct LimitsForm {
    csrf: Option<String>,
    daily_spend_tokens: Option<String>,
    cool_off_until: Option<String>,
    excluded_until: Option<String>,
}

/// Sets a user's limits at their request: an admin's action, checked as the API checks it
/// (a running cool-off or exclusion cannot be shortened).
pub async fn set_limits(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<LimitsForm>, FormRejection>,
) -> Response {
    let lang = operator.lang;
    let sent = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
    if let Err(refused) = operator.admin_action(sent) {
        return refused.into_response();
    }
    let Ok(Form(form)) = form else {
        return Refusal::new(
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_form",
            "The form could not be read.",
        )
        .into_response();
    };
    let Ok(user) = UserId::parse(&id) else {
        return Refusal::new(lang, StatusCode::NOT_FOUND, "unknown_user", "No user has that id.")
            .into_response();
    };
    let given = |field: Option<String>| field.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let daily = match given(form.daily_spend_tokens).map(|v| v.parse::<i64>()).transpose() {
        Ok(daily) => daily,
        Err(_) => {
            let text = "The daily spend must be a whole number of tokens.";
            return Refusal::new(lang, StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit", text)
                .into_response();
        }
    };
    let change = LimitsChange {
        daily_spend_tokens: daily,
        cool_off_until: given(form.cool_off_until),
        excluded_until: given(form.excluded_until),
    };
    match change_limits(&state, &user, change, &format!("dashboard:{}", operator.name)).await {
        Ok(()) => Redirect::to(&format!("/dashboard/users?id={user}")).into_response(),
        Err(err) => Refusal::of_api(lang, err).into_response(),
    }
}
