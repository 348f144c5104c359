//! Notifications the engine owes users, written to the outbox in the transaction that
//! causes them and delivered later by a dispatcher. Texts are localized (ko default, en).

use hmac::{Hmac, Mac};
use jiff::civil::Date;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::access::same_secret;
use crate::ids::UserId;

pub mod effects;
pub mod media;
pub mod policy;
pub mod streaks;
pub mod templates;

/// A notification waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `NEW_TOKEN_ARRIVAL`, `SEGMENT_UPGRADE`, `STREAK_REMINDER`, `CHURN_INVITATION`,
    /// `VIP_INVITATION` or
    /// `SEGMENT_MOVE`.
    pub kind: &'static str,
    pub user: UserId,
    /// Unique per notification: a retry or a re-run enqueues nothing twice.
    pub dedupe_key: String,
    pub payload: Value,
}

/// The signature of a user's opt-out link: hex HMAC-SHA256 of `opt-out/{user}` under the
/// operator's secret. It never expires: a link in an old message must still work.
pub fn opt_out_signature(secret: &[u8], user: &UserId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("opt-out/{user}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` is the one of `user`'s opt-out link (compared in constant time).
pub fn opt_out_verifies(secret: &[u8], user: &UserId, signature: &str) -> bool {
    same_secret(opt_out_signature(secret, user).as_bytes(), signature.as_bytes())
}

/// The platforms a device can be registered for: `email` registers an e-mail address, the
/// address as the token.
pub const PLATFORMS: [&str; 4] = ["android", "ios", "web", "email"];
/// Longest device token accepted (FCM's are about 160 characters; APNs' 64 hex digits).
pub const MAX_DEVICE_TOKEN: usize = 4_096;
/// Longest app id accepted (a bundle id or package name).
pub const MAX_APP_ID: usize = 255;

/// Why a device registration is refused: a stable code and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    pub code: &'static str,
    pub detail: String,
}

/// Checks a device registration: a known platform, a token a provider could have issued
/// (printable ASCII; hex digits for iOS, as APNs issues them; an address for e-mail), an app
/// id of a bundle id's characters.
pub fn check_device(platform: &str, token: &str, app_id: &str) -> Result<(), DeviceError> {
    let refuse = |code, detail: String| Err(DeviceError { code, detail });
    if !PLATFORMS.contains(&platform) {
        return refuse("invalid_platform", format!("platform must be one of {}", PLATFORMS.join(", ")));
    }
    let printable = |c: char| c.is_ascii_graphic();
    if token.is_empty() || token.len() > MAX_DEVICE_TOKEN || !token.chars().all(printable) {
        return refuse(
            "invalid_device_token",
            format!("token must be 1 to {MAX_DEVICE_TOKEN} printable ASCII characters without spaces"),
        );
    }
    if platform == "ios" && (!token.len().is_multiple_of(2) || !token.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return refuse("invalid_device_token", "an iOS token is an even number of hex digits".into());
    }
    if platform == "email" && !is_address(token) {
        return refuse(
            "invalid_device_token",
            "an e-mail token is an address: local@domain, at most 254 characters".into(),
        );
    }
    let bundle = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if app_id.is_empty() || app_id.len() > MAX_APP_ID || !app_id.chars().all(bundle) {
        return refuse("invalid_app_id", format!("app_id must be 1 to {MAX_APP_ID} of A-Z a-z 0-9 . _ -"));
    }
    Ok(())
}

/// Whether `text` is a plain e-mail address (RFC 5321's limits): a local part of 1 to 64
/// characters without quotes or brackets, and a domain of dot-separated labels of letters,
/// digits and hyphens, at most 254 characters in all. Quoted local parts and address
/// literals, which no player signs up with, are refused.
fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else { return false };
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    text.len() <= 254
        && (1..=64).contains(&local.len())
        && local.chars().all(atom)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(label)
}

/// Tokens earned at partner A have arrived. The payload holds the figures; the texts are
/// made from them when the notification is sent ([`templates`]).
pub fn token_arrival(user: &UserId, event_id: &str, amount: i64) -> Notification {
    Notification {
        kind: "NEW_TOKEN_ARRIVAL",
        user: user.clone(),
        dedupe_key: format!("token-arrival/{event_id}"),
        payload: json!({"amount": amount, "source": "partner"}),
    }
}

/// The nightly batch moved the user up the segment ladder.
pub fn segment_upgrade(user: &UserId, as_of: &str, from: &str, to: &str, reward: i64) -> Notification {
    Notification {
        kind: "SEGMENT_UPGRADE",
        user: user.clone(),
        dedupe_key: upgrade_key(user, as_of),
        payload: json!({"from": from, "to": to, "reward": reward, "as_of": as_of}),
    }
}

/// The kind of a user's entry into or exit from a segment at a night, for the operator's own
/// systems rather than for the user: it goes to the webhook alone, and the rules that
/// protect the user (consent, quiet hours, caps, holdouts) do not apply to it.
pub const SEGMENT_MOVE: &str = "SEGMENT_MOVE";

/// Whether notifications of `kind` are for the operator rather than the user.
pub fn for_operator(kind: &str) -> bool {
    kind == SEGMENT_MOVE
}

/// The nightly batch moved the user from segment `from` (`None`: new) to `to`.
pub fn segment_move(user: &UserId, as_of: &str, from: Option<&str>, to: &str) -> Notification {
    Notification {
        kind: SEGMENT_MOVE,
        user: user.clone(),
        dedupe_key: format!("segment-move/{as_of}/{user}"),
        payload: json!({"from": from, "to": to, "as_of": as_of}),
    }
}

/// A churn model scored the user likely to leave as of `as_of`: an invitation to the partner
/// event, written on business day `today`. The key names today's ISO week, so a user is
/// invited at most once a week however often, and for however many nights, scored.
pub fn churn_invitation(user: &UserId, as_of: Date, today: Date, probability: f64) -> Notification {
    let week = today.iso_week_date();
    Notification {
        kind: CHURN_INVITATION,
        user: user.clone(),
        dedupe_key: format!("churn-invitation/{}-W{:02}/{user}", week.year(), week.week()),
        payload: json!({"probability": probability, "as_of": as_of.to_string()}),
    }
}

pub const CHURN_INVITATION: &str = "CHURN_INVITATION";

/// The night's value forecast made the user a whale candidate: an invitation to the VIP
/// table, written on business day `today`. The key names today's month, so a user staying a
/// candidate night after night is invited at most once a month. Marketing: held back while
/// harm markers are on, like every stake offer.
pub fn vip_invitation(user: &UserId, as_of: Date, today: Date, forecast: f64) -> Notification {
    Notification {
        kind: VIP_INVITATION,
        user: user.clone(),
        dedupe_key: format!("vip-invitation/{:04}-{:02}/{user}", today.year(), today.month()),
        payload: json!({"forecast": forecast, "as_of": as_of.to_string()}),
    }
}

pub const VIP_INVITATION: &str = "VIP_INVITATION";

/// The key of a user's upgrade in one batch: it names the reward's ledger event too.
pub fn upgrade_key(user: &UserId, as_of: &str) -> String {
    format!("segment-upgrade/{as_of}/{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vip_invitation_is_keyed_by_the_month_it_is_sent_in() {
        let user = UserId::parse("u1").unwrap();
        let key = |night: (i16, i8, i8), sent: (i16, i8, i8)| {
            let date = |(y, m, d)| jiff::civil::date(y, m, d);
            vip_invitation(&user, date(night), date(sent), 1.0).dedupe_key
        };
        assert_eq!(key((2026, 5, 1), (2026, 5, 2)), "vip-invitation/2026-05/u1");
        assert_eq!(key((2026, 5, 30), (2026, 5, 31)), key((2026, 5, 1), (2026, 5, 2)));
        assert_ne!(key((2026, 5, 31), (2026, 6, 1)), key((2026, 5, 30), (2026, 5, 31)));
    }

    #[test]
    fn every_text_is_filled_in_both_languages() {
        let user = UserId::parse("u1").unwrap();
        for n in [
            token_arrival(&user, "e1", 150),
            segment_upgrade(&user, "2026-05-01", "Medium", "High Engaged", 100),
            churn_invitation(&user, jiff::civil::date(2026, 5, 1), jiff::civil::date(2026, 5, 2), 0.9),
            vip_invitation(&user, jiff::civil::date(2026, 5, 1), jiff::civil::date(2026, 5, 2), 9000.0),
        ] {
            let texts = templates::default_template(n.kind).unwrap().render(&n.payload);
            for field in ["title", "body"] {
                for lang in ["ko", "en"] {
                    let text = texts[field][lang].as_str().unwrap();
                    assert!(!text.is_empty() && !text.contains('{'), "{}: {text}", n.kind);
                }
            }
        }
        let arrival = token_arrival(&user, "e1", 150);
        let texts = templates::default_template(arrival.kind).unwrap().render(&arrival.payload);
        assert!(texts["body"]["ko"].as_str().unwrap().contains("150"));
    }

    #[test]
    fn an_opt_out_link_is_signed_for_one_user_under_one_secret() {
        let (u1, u2) = (UserId::parse("u1").unwrap(), UserId::parse("u2").unwrap());
        let signature = opt_out_signature(b"secret", &u1);
        assert_eq!(signature.len(), 64);
        assert!(opt_out_verifies(b"secret", &u1, &signature));
        assert!(!opt_out_verifies(b"secret", &u2, &signature), "another user");
        assert!(!opt_out_verifies(b"other", &u1, &signature), "another secret");
        assert!(!opt_out_verifies(b"secret", &u1, &signature[..63]));
        assert!(!opt_out_verifies(b"secret", &u1, &signature.to_uppercase()));
    }

    #[test]
    fn a_device_is_checked_before_it_is_kept() {
        let apns = "a1".repeat(32);
        assert_eq!(check_device("ios", &apns, "com.example.game"), Ok(()));
        assert_eq!(check_device("android", "fcm:APA91b-x_y", "com.example.game"), Ok(()));
        let code = |p: &str, t: &str, a: &str| check_device(p, t, a).unwrap_err().code;
        assert_eq!(code("windows", &apns, "app"), "invalid_platform");
        assert_eq!(code("ios", "not hex", "app"), "invalid_device_token");
        assert_eq!(code("ios", "abc", "app"), "invalid_device_token", "odd length");
        assert_eq!(code("android", "", "app"), "invalid_device_token");
        assert_eq!(code("android", "a\0b", "app"), "invalid_device_token");
        assert_eq!(code("android", &"x".repeat(MAX_DEVICE_TOKEN + 1), "app"), "invalid_device_token");
        assert_eq!(code("web", "tok", "app id"), "invalid_app_id");
        assert_eq!(code("web", "tok", ""), "invalid_app_id");
        assert_eq!(check_device("email", "player.one+kr@mail.example.com", "com.example.game"), Ok(()));
        for bad in [
            "no-at-sign",
            "two@@example.com",
            "@example.com",
            "x@localhost",
            "x@-bad.example.com",
            "a..b@example.com",
            "\"quoted\"@example.com",
            "x@[127.0.0.1]",
            "x@exa_mple.com",
        ] {
            assert_eq!(code("email", bad, "app"), "invalid_device_token", "{bad}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
        assert_eq!(long.len(), 255);
        assert_eq!(code("email", &long, "app"), "invalid_device_token");
    }
}
