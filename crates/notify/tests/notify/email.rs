//! E-mail through a real SMTP server: aiosmtpd from PyPI (`smtpd.py`, which `.ci/run`
//! installs into its venv), on loopback, offering STARTTLS with a certificate of a test CA and
//! asking for authentication. The tests read what it received, decoded as a mail client
//! would, and script its refusals by the recipient's local part.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;

use playpulse_core::notify::{opt_out_verifies, token_arrival};
use playpulse_core::time::ManualClock;
use playpulse_notify::{Dispatcher, Email, EmailConfig, EmailTls, NotifyConfig, OptOutConfig};
use playpulse_store::{DeliveryState, ProfileUpdate, Store, StoredNotification};
use serde_json::Value;

use crate::support::{Backend, all, config, device, dispatcher_with, known, on_both, receiver, t0, user};

on_both!(
    an_address_gets_the_mail_over_starttls_with_the_same_message_id_on_every_attempt,
    a_bounced_address_is_disabled_and_a_refused_message_is_dead,
    no_mail_goes_in_the_clear_when_tls_fails_or_is_required,
);

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/notify/keys");
const LOGIN: (&str, &str) = ("playpulse", "a relay password");
const OPT_OUT_SECRET: &str = "an opt-out secret of at least thirty-two characters";

/// The relay: aiosmtpd in a child process, stopped when dropped.
struct Relay {
    child: Child,
    /// Closing it stops the server.
    _stdin: ChildStdin,
    port: u16,
    maildir: tempfile::TempDir,
    starttls: bool,
}

/// The Python that has aiosmtpd: `PLAYPULSE_PYTHON`, or the venv `.ci/run` installs it in.
fn python() -> PathBuf {
    let python = std::env::var_os("PLAYPULSE_PYTHON")
        .map_or_else(|| PathBuf::from("/var/tmp/playpulse-venv/bin/python"), PathBuf::from);
    let found = Command::new(&python).args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    assert!(
        found,
        "the e-mail tests need aiosmtpd in {python:?} (.ci/run installs it, or set PLAYPULSE_PYTHON)"
    );
    python
}

impl Relay {
    /// Starts the relay; `starttls`: whether it offers STARTTLS (and then asks to
    /// authenticate).
    fn start(starttls: bool) -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = Command::new(python());
        command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/notify/smtpd.py"));
        command.arg(port.to_string()).arg(maildir.path());
        if starttls {
            command.args([
                "--tls",
                &format!("{KEYS}/smtp-test-server.pem"),
                &format!("{KEYS}/smtp-test-server.key"),
            ]);
            command.args(["--auth", &format!("{}:{}", LOGIN.0, LOGIN.1)]);
        }
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the relay did not start");
        let stdin = child.stdin.take().unwrap();
        Relay { child, _stdin: stdin, port, maildir, starttls }
    }

    /// Every message received, as the relay decoded it.
    fn received(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }

    /// The channel's config for this relay, with its login when the relay asks for one and
    /// `tls` keeps it from the clear.
    fn config(&self, tls: EmailTls, ca: bool) -> EmailConfig {
        let login = self.starttls && tls == EmailTls::Starttls;
        EmailConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls,
            username: if login { LOGIN.0.into() } else { String::new() },
            password: if login { LOGIN.1.into() } else { String::new() },
            from: "Playpulse <noreply@playpulse.example.com>".into(),
            ca_file: if ca { format!("{KEYS}/smtp-test-ca.pem") } else { String::new() },
            timeout_ms: 3_000,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dispatcher that mails first, then posts to the webhook at `webhook`.
fn dispatcher(store: Arc<dyn Store>, clock: &ManualClock, email: EmailConfig, webhook: &str) -> Dispatcher {
    let opt_out = OptOutConfig { base_url: "https://pp.example.com".into(), secret: OPT_OUT_SECRET.into() };
    let config = NotifyConfig { email, opt_out, lease_s: 30, ..config(webhook) };
    config.validate().unwrap();
    let email = Email::new(&config.email, store.clone()).unwrap().expect("e-mail is configured");
    let email = email.with_opt_out(config.opt_out.links());
    dispatcher_with(store, clock, config, Arc::new(email))
}

fn header<'a>(mail: &'a Value, name: &str) -> &'a str {
    mail["headers"][name].as_str().unwrap_or_else(|| panic!("no {name} in {mail}"))
}

async fn an_address_gets_the_mail_over_starttls_with_the_same_message_id_on_every_attempt(b: &Backend) {
    let relay = Relay::start(true);
    let clock = ManualClock::new(t0());
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "email", "player0@mail.example.com").await;
    device(store, 1, "email", "player1@mail.example.com").await;
    device(store, 1, "email", "busy1@mail.example.com").await;
    let english = ProfileUpdate { lang: Some("en".into()), ..ProfileUpdate::default() };
    assert!(store.update_profile(&user(1), english).await.unwrap());
    let notes = (0..2).map(|i| token_arrival(&user(i), &format!("e{i}"), 12_500)).collect();
    store.enqueue(notes, t0()).await.unwrap();
    let d = dispatcher(b.store.clone(), &clock, relay.config(EmailTls::Starttls, true), &url);

    assert_eq!(d.dispatch_once().await.unwrap(), 2);
    let mail = relay.received();
    assert_eq!(mail.len(), 2, "{mail:?}");
    let to = |addr: &str| mail.iter().find(|m| m["rcpt_tos"][0] == addr).unwrap().clone();
    let korean = to("player0@mail.example.com");
    assert_eq!((korean["tls"].as_bool(), korean["authenticated"].as_bool()), (Some(true), Some(true)));
    assert_eq!(korean["mail_from"], "noreply@playpulse.example.com");
    assert_eq!(header(&korean, "Subject"), "토큰 도착!");
    assert_eq!(korean["content_type"], "text/plain");
    let text = korean["text"].as_str().unwrap();
    assert!(
        text.contains("A 업체에서 12,500 사이버 토큰을 획득했습니다! 바로 게임에서 사용해보세요."),
        "{text}"
    );
    assert!(header(&korean, "Playpulse-Idempotency-Key").starts_with("token-arrival/"));
    assert!(header(&korean, "Message-ID").ends_with("@playpulse.example.com>"));
    // The one-click opt-out of RFC 8058, signed for the user, in the text too.
    assert_eq!(header(&korean, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    let link = header(&korean, "List-Unsubscribe").trim_matches(['<', '>']).to_owned();
    assert!(text.contains(&format!("수신 거부: {link}")), "{text}");
    let link = url::Url::parse(&link).unwrap();
    let pairs: std::collections::BTreeMap<_, _> = link.query_pairs().collect();
    assert_eq!((link.path(), pairs["user"].as_ref()), ("/opt-out", "u0"));
    assert!(opt_out_verifies(OPT_OUT_SECRET.as_bytes(), &user(0), &pairs["sig"]));

    // u1 has two addresses; the relay puts one off: the whole notification is tried again,
    // and the address that had it gets the same message (same Message-ID) a second time.
    let english = to("player1@mail.example.com");
    assert_eq!(header(&english, "Subject"), "Tokens arrived!");
    assert!(english["text"].as_str().unwrap().contains("You earned 12,500 cyber tokens at partner A!"));
    let n1 = all(store).await.into_iter().find(|n| n.user_id == "u1").unwrap();
    assert_eq!(n1.state, DeliveryState::Failed, "{:?}", n1.last_error);
    assert!(n1.last_error.as_deref().unwrap().contains("451"), "{:?}", n1.last_error);
    clock.set(n1.next_attempt_at);
    d.dispatch_once().await.unwrap();
    let mail = relay.received();
    let again: Vec<&Value> = mail.iter().filter(|m| header(m, "To").contains("1@mail.example.com")).collect();
    assert_eq!(again.len(), 3, "{mail:?}");
    let ids: std::collections::BTreeSet<&str> = again.iter().map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids.len(), 1, "one Message-ID on every attempt");
    for n in all(store).await {
        assert_eq!((n.state, n.channel.as_deref()), (DeliveryState::Sent, Some("email")), "{n:?}");
    }
    assert!(hook.seen().is_empty(), "mail reached everyone");
}

async fn a_bounced_address_is_disabled_and_a_refused_message_is_dead(b: &Backend) {
    let relay = Relay::start(true);
    let clock = ManualClock::new(t0());
    let (hook, url) = receiver(clock.clone()).await;
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "email", "bounce0@mail.example.com").await;
    device(store, 1, "email", "policy1@mail.example.com").await;
    let notes = (0..2).map(|i| token_arrival(&user(i), &format!("e{i}"), 10)).collect();
    store.enqueue(notes, t0()).await.unwrap();
    let d = dispatcher(b.store.clone(), &clock, relay.config(EmailTls::Starttls, true), &url);
    d.dispatch_once().await.unwrap();

    assert!(relay.received().is_empty());
    for n in all(store).await {
        assert_eq!(n.state, DeliveryState::Dead, "{n:?}");
        assert!(n.last_error.as_deref().unwrap().contains("550"), "{:?}", n.last_error);
    }
    let reason =
        |u: usize| async move { store.devices_of(&user(u)).await.unwrap()[0].disabled_reason.clone() };
    assert_eq!(reason(0).await.as_deref(), Some("5.1.1"), "no such user: the address is disabled");
    assert_eq!(reason(1).await, None, "a policy refusal is not the address's fault");

    // The bounced user's next notification reaches them the other way.
    store.enqueue(vec![token_arrival(&user(0), "later", 10)], t0()).await.unwrap();
    d.dispatch_once().await.unwrap();
    assert_eq!(hook.accepted().len(), 1);
}

/// Sends one notification of user `u0` through `relay` as `email` says; the notification
/// after the attempt, and how many messages the relay received.
async fn send_one(
    b: &Backend,
    clock: &ManualClock,
    webhook: &str,
    relay: &Relay,
    email: EmailConfig,
    event: &str,
) -> (StoredNotification, usize) {
    let store = b.store.as_ref();
    let before = relay.received().len();
    store.enqueue(vec![token_arrival(&user(0), event, 10)], t0()).await.unwrap();
    dispatcher(b.store.clone(), clock, email, webhook).dispatch_once().await.unwrap();
    let n = all(store).await.into_iter().find(|n| n.dedupe_key.ends_with(event)).unwrap();
    (n, relay.received().len() - before)
}

async fn no_mail_goes_in_the_clear_when_tls_fails_or_is_required(b: &Backend) {
    let store = b.store.as_ref();
    known(store, 5).await;
    device(store, 0, "email", "player0@mail.example.com").await;
    let clock = ManualClock::new(t0());
    let (hook, url) = receiver(clock.clone()).await;
    // A certificate from a CA the channel does not trust: STARTTLS fails, and "when offered"
    // does not fall back to plain text.
    let tls = Relay::start(true);
    let (n, mailed) =
        send_one(b, &clock, &url, &tls, tls.config(EmailTls::WhenOffered, false), "untrusted").await;
    assert_eq!((n.state, mailed), (DeliveryState::Failed, 0), "{:?}", n.last_error);

    // A relay without STARTTLS: "starttls" sends nothing (and keeps trying); "when offered"
    // sends in plain text.
    let plain = Relay::start(false);
    let (n, mailed) =
        send_one(b, &clock, &url, &plain, plain.config(EmailTls::Starttls, true), "required").await;
    assert_eq!((n.state, mailed), (DeliveryState::Failed, 0), "{:?}", n.last_error);
    let (n, mailed) =
        send_one(b, &clock, &url, &plain, plain.config(EmailTls::WhenOffered, true), "offered").await;
    assert_eq!((n.state, mailed), (DeliveryState::Sent, 1), "{:?}", n.last_error);
    assert_eq!(plain.received()[0]["tls"], false);

    // A password is never offered where it would cross in the clear.
    let exposed = EmailConfig {
        username: LOGIN.0.into(),
        password: LOGIN.1.into(),
        ..plain.config(EmailTls::WhenOffered, true)
    };
    let refused = NotifyConfig { email: exposed, ..NotifyConfig::default() }.validate().unwrap_err();
    assert!(refused.contains("notify.email.tls"), "{refused}");

    // The relay down: tried again later, the address kept.
    let port = plain.port;
    drop(plain);
    let down = EmailConfig { port, ..tls.config(EmailTls::Starttls, true) };
    let (n, _) = send_one(b, &clock, &url, &tls, down, "down").await;
    assert_eq!(n.state, DeliveryState::Failed, "{:?}", n.last_error);
    assert!(store.devices_of(&user(0)).await.unwrap()[0].disabled_at.is_none());
    assert!(hook.seen().is_empty(), "a user with an address is not passed to the webhook");
}
