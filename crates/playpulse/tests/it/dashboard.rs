//! The dashboard's sign-in over real HTTP: sessions in cookies, CSRF on every state change,
//! roles enforced by the server, wrong passwords locking an account, and a per-address limit.

use jiff::SignedDuration;
use playpulse::commands::operators::create;
use playpulse_core::access::Scope;
use playpulse_core::operators::Role;
use playpulse_core::time::Clock;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, earn};

on_both_backends!(
    operators_sign_in_and_out_and_sessions_expire,
    a_viewer_cannot_revoke_a_key_and_an_admin_can,
    wrong_passwords_lock_an_account_for_a_while,
    an_admin_sets_limits_at_a_users_request,
    sign_ins_from_one_address_are_limited
);

const PASSWORD: &str = "a long enough passphrase";

/// A browser that does not follow redirects (the tests read them) and sends one cookie.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, base: app.base.clone(), cookie: None }
    }

    /// The cookies sent: English pages, and the session once signed in.
    fn cookies(&self) -> String {
        let lang = "playpulse_lang=en".to_owned();
        self.cookie.as_ref().map_or(lang.clone(), |session| format!("{lang}; {session}"))
    }

    async fn get(&self, path: &str) -> Response {
        let request = self.client.get(format!("{}{path}", self.base));
        request.header(COOKIE, self.cookies()).send().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let request = self.client.post(format!("{}{path}", self.base)).form(form);
        request.header(COOKIE, self.cookies()).send().await.unwrap()
    }

    /// Signs in; the answer, with the session cookie kept when one was set.
    async fn sign_in(&mut self, name: &str, password: &str) -> Response {
        let answer = self.post("/dashboard/login", &[("name", name), ("password", password)]).await;
        if let Some(set) = answer.headers().get(SET_COOKIE) {
            self.cookie = Some(set.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        answer
    }

    /// The CSRF token of the signed-in page at `path`.
    async fn csrf(&self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        let at = page.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no csrf field in {page}"));
        page[at + 19..].split('"').next().unwrap().to_owned()
    }
}

fn location(answer: &Response) -> &str {
    answer.headers()[LOCATION].to_str().unwrap()
}

fn code(answer: &Response) -> &str {
    answer.headers().get("x-playpulse-code").map_or("", |v| v.to_str().unwrap())
}

async fn operator(app: &TestApp, name: &str, role: Role) {
    assert!(create(app.state.store.as_ref(), name, role, PASSWORD, app.clock.now()).await.unwrap());
}

async fn operators_sign_in_and_out_and_sessions_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    operator(&app, "ann", Role::Admin).await;
    let mut browser = Browser::new(&app);

    let away = browser.get("/dashboard").await;
    assert_eq!((away.status(), location(&away)), (StatusCode::SEE_OTHER, "/dashboard/login"));
    let form = browser.get("/dashboard/login").await;
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()["x-frame-options"], "DENY");
    assert!(form.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    assert!(form.text().await.unwrap().contains("action=\"/dashboard/login\""));

    for (name, password) in [("ann", "not the passphrase"), ("nobody", PASSWORD), ("an\0n", PASSWORD)] {
        let refused = browser.sign_in(name, password).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(refused.text().await.unwrap().contains("Wrong name or password."), "the same words for both");
    }
    assert_eq!(browser.cookie, None);
    let unreadable = browser.post("/dashboard/login", &[("name", "ann")]).await;
    assert_eq!((unreadable.status(), code(&unreadable)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_form"));

    let signed_in = browser.sign_in("ann", PASSWORD).await;
    assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, "/dashboard"));
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Path=/dashboard; Max-Age=43200; HttpOnly; SameSite=Strict"), "{cookie}");
    let overview = browser.get("/dashboard").await;
    assert_eq!(overview.status(), StatusCode::OK);
    let text = overview.text().await.unwrap();
    assert!(text.contains("ann · admin") && text.contains("Daily active users"), "{text}");

    // Behind a TLS proxy the cookie is Secure.
    let over_tls = Browser::new(&app)
        .client
        .post(format!("{}/dashboard/login", app.base))
        .header("x-forwarded-proto", "https")
        .form(&[("name", "ann"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(over_tls.headers()[SET_COOKIE].to_str().unwrap().ends_with("; Secure"));

    let forged = browser.post("/dashboard/logout", &[]).await;
    assert_eq!((forged.status(), code(&forged)), (StatusCode::FORBIDDEN, "csrf_token_invalid"));
    let wrong_token = browser.post("/dashboard/logout", &[("csrf", "0000")]).await;
    assert_eq!(wrong_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/dashboard").await.status(), StatusCode::OK, "still signed in");

    let csrf = browser.csrf("/dashboard").await;
    let out = browser.post("/dashboard/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status(), location(&out)), (StatusCode::SEE_OTHER, "/dashboard/login"));
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(browser.get("/dashboard").await.status(), StatusCode::SEE_OTHER, "the old cookie is dead");

    browser.sign_in("ann", PASSWORD).await;
    assert_eq!(browser.get("/dashboard").await.status(), StatusCode::OK);
    app.clock.set(app.clock.now() + SignedDuration::from_hours(12));
    assert_eq!(browser.get("/dashboard").await.status(), StatusCode::SEE_OTHER, "expired after 12 hours");
}

async fn a_viewer_cannot_revoke_a_key_and_an_admin_can(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    operator(&app, "vic", Role::Viewer).await;
    operator(&app, "ann", Role::Admin).await;
    let store = app.state.store.as_ref();
    let key = playpulse_server::auth::create_key(store, "game server", vec![Scope::Ingest], app.clock.now())
        .await
        .unwrap();
    let revoke = format!("/dashboard/keys/{}/revoke", key.record.key_id);

    let mut viewer = Browser::new(&app);
    viewer.sign_in("vic", PASSWORD).await;
    let page = viewer.get("/dashboard/keys").await.text().await.unwrap();
    assert!(page.contains(&key.record.key_id) && !page.contains(&revoke), "no revoke button for a viewer");
    let csrf = viewer.csrf("/dashboard/keys").await;
    let refused = viewer.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!((refused.status(), code(&refused)), (StatusCode::FORBIDDEN, "admin_only"));
    assert!(!store.api_key(&key.record.key_id).await.unwrap().unwrap().revoked, "the server refused it");

    let mut admin = Browser::new(&app);
    admin.sign_in("ann", PASSWORD).await;
    assert!(admin.get("/dashboard/keys").await.text().await.unwrap().contains(&revoke));
    let forged = admin.post(&revoke, &[]).await;
    assert_eq!((forged.status(), code(&forged)), (StatusCode::FORBIDDEN, "csrf_token_invalid"));
    let other_session = admin.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(other_session.status(), StatusCode::FORBIDDEN, "a token is its session's own");
    assert!(!store.api_key(&key.record.key_id).await.unwrap().unwrap().revoked);

    let csrf = admin.csrf("/dashboard/keys").await;
    let done = admin.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!((done.status(), location(&done)), (StatusCode::SEE_OTHER, "/dashboard/keys"));
    assert!(store.api_key(&key.record.key_id).await.unwrap().unwrap().revoked);
    let again = admin.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!((again.status(), code(&again)), (StatusCode::NOT_FOUND, "unknown_key"));
}

async fn wrong_passwords_lock_an_account_for_a_while(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    operator(&app, "ann", Role::Admin).await;
    operator(&app, "bo", Role::Viewer).await;
    let mut browser = Browser::new(&app);
    for attempt in 1..=4 {
        assert_eq!(browser.sign_in("ann", "guess").await.status(), StatusCode::UNAUTHORIZED, "{attempt}");
    }
    let fifth = browser.sign_in("ann", "guess").await;
    assert_eq!(fifth.status(), StatusCode::FORBIDDEN);
    assert!(fifth.text().await.unwrap().contains("locked"));
    let right = browser.sign_in("ann", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::FORBIDDEN, "locked even for the right password");
    assert_eq!(browser.cookie, None);
    assert_eq!(Browser::new(&app).sign_in("bo", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    app.clock.set(app.clock.now() + SignedDuration::from_mins(15));
    assert_eq!(
        browser.sign_in("ann", PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "unlocked after 15 min"
    );
    let ann = app.state.store.operator("ann").await.unwrap().unwrap();
    assert_eq!((ann.failed_logins, ann.locked_until), (0, None));
}

async fn sign_ins_from_one_address_are_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.dashboard.login_attempts_per_minute = 3).await;
    operator(&app, "ann", Role::Admin).await;
    let mut browser = Browser::new(&app);
    for _ in 0..3 {
        assert_eq!(browser.sign_in("nobody", "guess").await.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = browser.sign_in("ann", PASSWORD).await;
    assert_eq!((limited.status(), code(&limited)), (StatusCode::TOO_MANY_REQUESTS, "too_many_sign_ins"));
    assert_eq!(limited.headers()["retry-after"], "60");
    assert_eq!(browser.cookie, None);
}

async fn an_admin_sets_limits_at_a_users_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.send(&[earn("lu", 100)]).await;
    operator(&app, "vic", Role::Viewer).await;
    operator(&app, "ann", Role::Admin).await;
    let user = playpulse_core::ids::UserId::parse("lu").unwrap();
    let limits = || async { app.state.store.user(&user).await.unwrap().unwrap().state.limits };
    let path = "/dashboard/users/lu/limits";

    let mut viewer = Browser::new(&app);
    viewer.sign_in("vic", PASSWORD).await;
    let page = viewer.get("/dashboard/users?id=lu").await.text().await.unwrap();
    assert!(!page.contains(path), "no limits form for a viewer");
    let csrf = viewer.csrf("/dashboard/users?id=lu").await;
    let refused = viewer.post(path, &[("csrf", &csrf), ("daily_spend_tokens", "500")]).await;
    assert_eq!((refused.status(), code(&refused)), (StatusCode::FORBIDDEN, "admin_only"));
    assert_eq!(limits().await.daily_spend_tokens, None);

    let mut admin = Browser::new(&app);
    admin.sign_in("ann", PASSWORD).await;
    assert!(admin.get("/dashboard/users?id=lu").await.text().await.unwrap().contains(path));
    let csrf = admin.csrf("/dashboard/users?id=lu").await;
    let forged = admin.post(path, &[("daily_spend_tokens", "500")]).await;
    assert_eq!((forged.status(), code(&forged)), (StatusCode::FORBIDDEN, "csrf_token_invalid"));
    let until = "2026-06-01T00:00:00Z";
    let set =
        admin.post(path, &[("csrf", &csrf), ("daily_spend_tokens", "500"), ("cool_off_until", until)]).await;
    assert_eq!((set.status(), location(&set)), (StatusCode::SEE_OTHER, "/dashboard/users?id=lu"));
    let now = limits().await;
    assert_eq!((now.daily_spend_tokens, now.cool_off_until), (Some(500), Some(until.parse().unwrap())));

    // As through the API: a running cool-off cannot be cut short, and bad values are named.
    let early = admin.post(path, &[("csrf", &csrf), ("daily_spend_tokens", "500")]).await;
    assert_eq!((early.status(), code(&early)), (StatusCode::UNPROCESSABLE_ENTITY, "limit_locked"));
    for fields in [
        [("daily_spend_tokens", "lots"), ("cool_off_until", until)],
        [("daily_spend_tokens", "0"), ("cool_off_until", until)],
        [("daily_spend_tokens", "500"), ("cool_off_until", "soon")],
    ] {
        let bad = admin.post(path, &[&[("csrf", csrf.as_str())][..], &fields].concat()).await;
        assert_eq!(
            (bad.status(), code(&bad)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit"),
            "{fields:?}"
        );
    }
    assert_eq!(limits().await, now, "nothing refused changed anything");
    let unknown = admin.post("/dashboard/users/nobody/limits", &[("csrf", &csrf)]).await;
    assert_eq!((unknown.status(), code(&unknown)), (StatusCode::NOT_FOUND, "unknown_user"));
}
