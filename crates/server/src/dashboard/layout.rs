//! What every page shares: the frame and navigation, the language switch, refusals, the
//! stylesheet.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::i18n::{LANG_COOKIE, Lang};
use super::session::Operator;

const STYLESHEET: &str = include_str!("app.css");
const ICON: &str = include_str!("icon.svg");

/// The pages in the navigation: path and English title.
pub(super) const NAVIGATION: [(&str, &str); 9] = [
    ("/dashboard", "Overview"),
    ("/dashboard/retention", "Retention"),
    ("/dashboard/economy", "Economy"),
    ("/dashboard/segments", "Segments"),
    ("/dashboard/hours", "Peak hours"),
    ("/dashboard/proposals", "Proposals"),
    ("/dashboard/jobs", "Jobs"),
    ("/dashboard/users", "Users"),
    ("/dashboard/keys", "API keys"),
];

/// The stylesheet, embedded in the binary.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLESHEET)
        .into_response()
}

/// The icon, embedded (a page names it, so the browser never asks for `/favicon.ico`).
pub async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=86400")], ICON)
        .into_response()
}

/// A page for a signed-in operator: navigation (with `path` marked current), then `body`.
pub fn page(operator: &Operator, path: &str, title: &str, body: Markup) -> Markup {
    let lang = operator.lang;
    frame(
        lang,
        title,
        html! {
            header.bar {
                nav aria-label="main" {
                    @for (href, name) in NAVIGATION {
                        @if href == path { a href=(href) aria-current="page" { (lang.t(name)) } }
                        @else { a href=(href) { (lang.t(name)) } }
                    }
                }
                div.account {
                    a.lang href={ "/dashboard/lang/" (lang.other().code()) "?back=" (path) } lang=(lang.other().code()) {
                        (match lang.other() { Lang::Ko => "한국어", Lang::En => "English" })
                    }
                    form method="post" action="/dashboard/logout" {
                        span.who { (operator.name) " · " (operator.role) }
                        input type="hidden" name="csrf" value=(operator.csrf);
                        button type="submit" { (lang.t("Sign out")) }
                    }
                }
            }
            main { h1 { (title) } (body) }
        },
    )
}

/// The document around `body`.
pub fn frame(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · playpulse" }
                link rel="stylesheet" href="/dashboard/assets/app.css";
                link rel="icon" href="/dashboard/assets/icon.svg" type="image/svg+xml";
            }
            body { (body) }
        }
    }
}

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// Sets the language and goes back to the page it was asked from (a dashboard page only).
pub async fn switch_language(Path(code): Path<String>, Query(back): Query<Back>) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return Refusal::new(Lang::Ko, StatusCode::NOT_FOUND, "unknown_language", "No such page.")
            .into_response();
    };
    let back =
        back.back.filter(|b| NAVIGATION.iter().any(|(href, _)| href == b)).unwrap_or("/dashboard".into());
    let cookie = format!("{LANG_COOKIE}={}; Path=/dashboard; Max-Age=31536000; SameSite=Strict", lang.code());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

/// A request refused, shown as a page with its stable code (also in the `x-playpulse-code`
/// header, for scripts and tests).
#[derive(Debug)]
pub struct Refusal {
    pub lang: Lang,
    pub status: StatusCode,
    pub code: &'static str,
    /// In English; shown in the page's language.
    pub message: &'static str,
    /// What exactly was wrong, as the API words it (English only).
    pub detail: Option<String>,
}

impl Refusal {
    pub fn new(lang: Lang, status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self { lang, status, code, message, detail: None }
    }

    /// The API's refusal of the same change, with its code and words.
    pub fn of_api(lang: Lang, err: crate::problem::ApiError) -> Self {
        Self { detail: Some(err.detail), ..Self::new(lang, err.status, err.code, "The change was refused.") }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let body = frame(
            lang,
            lang.t("Refused"),
            html! {
                main {
                    section.card {
                        h1 { (lang.t("Refused")) " (" (self.status.as_u16()) ")" }
                        p { (lang.t(self.message)) }
                    @if let Some(detail) = &self.detail { p.detail { (detail) } }
                        p.code { "code: " code { (self.code) } }
                        p { a href="/dashboard" { (lang.t("Back to the dashboard")) } }
                    }
                }
            },
        );
        (self.status, [("x-playpulse-code", self.code)], body).into_response()
    }
}
