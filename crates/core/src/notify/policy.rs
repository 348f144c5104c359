//! Whether a notification may go to its user now: the rules of delivery that protect
//! players. Pure: the dispatcher gathers the facts and records the verdict, so that a
//! notification kept from its user is recorded with the reason, never dropped.

use jiff::civil::{Time, time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use super::media::{Media, Medium};
use crate::ids::UserId;

/// Korea's Network Act: advertising sent between 21:00 and 08:00 (the recipient's time)
/// needs its own consent, beside the consent to advertising at all.
pub const NIGHT_START: Time = time(21, 0, 0, 0);
pub const NIGHT_END: Time = time(8, 0, 0, 0);

/// What a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A notice of what happened to the user's account (tokens arrived, a reward credited).
    Transactional,
    /// An invitation to play or to spend.
    Marketing,
}

/// How one trigger's notifications are treated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub purpose: Purpose,
    /// Share of users (0 to [`MAX_HOLDOUT_SHARE`]) who get none of this trigger's
    /// notifications, so that its effect can be measured against them.
    pub holdout_share: f64,
}

/// Most of the users a trigger may hold out.
pub const MAX_HOLDOUT_SHARE: f64 = 0.5;

impl Trigger {
    /// A trigger no config names: treated as marketing, the stricter purpose.
    pub const UNNAMED: Trigger = Trigger { purpose: Purpose::Marketing, holdout_share: 0.0 };

    pub fn validate(&self) -> Result<(), String> {
        if (0.0..=MAX_HOLDOUT_SHARE).contains(&self.holdout_share) {
            Ok(())
        } else {
            Err(format!("holdout_share must be from 0 to {MAX_HOLDOUT_SHARE}"))
        }
    }
}

/// A daily window, in the user's own time, when nothing is sent to them (what falls in it
/// waits for its end). It may span midnight; minute precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

impl QuietHours {
    /// `HH:MM-HH:MM`, start and end apart.
    pub fn parse(text: &str) -> Result<Self, String> {
        let minute = |t: &str| -> Option<Time> {
            let t = t.trim();
            let (h, m) = t.split_once(':')?;
            let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
            (t.len() == 5 && (0..24).contains(&h) && (0..60).contains(&m)).then(|| time(h, m, 0, 0))
        };
        let (start, end) = text.split_once('-').ok_or("quiet hours are `HH:MM-HH:MM`")?;
        match (minute(start), minute(end)) {
            (Some(start), Some(end)) if start != end => Ok(QuietHours { start, end }),
            (Some(_), Some(_)) => Err("quiet hours must start and end at different times".into()),
            _ => Err("quiet hours are `HH:MM-HH:MM` (24-hour clock)".into()),
        }
    }

    /// Minutes after midnight of start and end, as stored.
    pub fn minutes(&self) -> (i64, i64) {
        let of = |t: Time| i64::from(t.hour()) * 60 + i64::from(t.minute());
        (of(self.start), of(self.end))
    }

    /// From minutes after midnight, as stored.
    pub fn from_minutes(start: i64, end: i64) -> Option<Self> {
        let at = |m: i64| Time::new(i8::try_from(m / 60).ok()?, i8::try_from(m % 60).ok()?, 0, 0).ok();
        Some(QuietHours { start: at(start)?, end: at(end)? })
    }

    fn contains(&self, t: Time) -> bool {
        within(t, self.start, self.end)
    }
}

impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start.strftime("%H:%M"), self.end.strftime("%H:%M"))
    }
}

/// Whether `t` is in the daily window [start, end), which may span midnight.
fn within(t: Time, start: Time, end: Time) -> bool {
    if start < end { start <= t && t < end } else { t >= start || t < end }
}

/// What the user agreed to and asked for. Consents are opt-in, and kept with when they were
/// given, as the law asks a sender to be able to show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preferences {
    /// Since when the user agrees to marketing notifications; `None`: they do not.
    pub marketing_since: Option<Timestamp>,
    /// Since when they also agree to them between 21:00 and 08:00.
    pub night_marketing_since: Option<Timestamp>,
    /// The media their marketing consent covers; `None`: every one.
    pub marketing_channels: Option<Media>,
    pub quiet_hours: Option<QuietHours>,
}

impl Preferences {
    /// Whether marketing may reach the user by `medium` (given their consent at all).
    pub fn allows_marketing_by(&self, medium: Medium) -> bool {
        self.marketing_channels.is_none_or(|media| media.contains(medium))
    }
}

/// How many notifications a user gets at most; past either, marketing is suppressed
/// (notices always go, and count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// In the last 24 hours.
    pub per_day: u32,
    /// In the last 7 days.
    pub per_week: u32,
}

/// What the rules need to know of the user.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Harm markers are on: the protective policy applies.
    pub protective: bool,
    pub preferences: Preferences,
    /// The user's own zone (the business zone when they set none).
    pub zone: TimeZone,
    /// Notifications sent to the user in the last 24 hours and 7 days.
    pub sent_last_day: u64,
    pub sent_last_week: u64,
    /// What the notification's own timing says, when it has one (a streak reminder waits
    /// for its hour and lapses once kept: [`super::streaks::timing`]); `None`: now is fine.
    pub timing: Option<Verdict>,
}

/// The rules' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Not now: tried again at `until`.
    Defer {
        until: Timestamp,
        reason: &'static str,
    },
    /// Never: recorded with the reason.
    Suppress(&'static str),
}

/// What happens to a notification of `kind` for `user` at `now`. The holdout comes first, so
/// who is held out depends on nothing else; then the notification's own timing; then what
/// forbids (protection, consent, caps); then what only delays (quiet hours, the night
/// without its consent).
pub fn verdict(
    kind: &str,
    user: &UserId,
    trigger: &Trigger,
    caps: &Caps,
    r: &Recipient,
    now: Timestamp,
) -> Verdict {
    let marketing = trigger.purpose == Purpose::Marketing;
    let capped = r.sent_last_day >= u64::from(caps.per_day) || r.sent_last_week >= u64::from(caps.per_week);
    if held_out(user, kind, trigger.holdout_share) {
        return Verdict::Suppress("holdout");
    }
    if let Some(timing) = &r.timing {
        return timing.clone();
    }
    if marketing && r.protective {
        return Verdict::Suppress("protective_policy");
    }
    if marketing && r.preferences.marketing_since.is_none() {
        return Verdict::Suppress("no_marketing_consent");
    }
    if marketing && capped {
        return Verdict::Suppress("frequency_cap");
    }
    let local = now.to_zoned(r.zone.clone());
    if let Some(quiet) = r.preferences.quiet_hours
        && quiet.contains(local.time())
    {
        return Verdict::Defer { until: next(&local, quiet.end), reason: "quiet_hours" };
    }
    let night = within(local.time(), NIGHT_START, NIGHT_END);
    if marketing && night && r.preferences.night_marketing_since.is_none() {
        return Verdict::Defer { until: next(&local, NIGHT_END), reason: "night_without_consent" };
    }
    Verdict::Send
}

/// The first instant after `local` whose wall-clock time in its zone is `at` (a time a
/// transition skips resolves past the gap).
fn next(local: &jiff::Zoned, at: Time) -> Timestamp {
    let on = |date: jiff::civil::Date| {
        local.time_zone().to_ambiguous_zoned(date.to_datetime(at)).compatible().map(|z| z.timestamp())
    };
    match on(local.date()) {
        Ok(today) if today > local.timestamp() => today,
        _ => local.date().checked_add(1.day()).ok().and_then(|d| on(d).ok()).unwrap_or(Timestamp::MAX),
    }
}

/// Whether `user` is in the holdout of trigger `kind`: a hash of the two, so a user is held
/// out of a trigger on every run and every instance, and of different triggers independently.
pub fn held_out(user: &UserId, kind: &str, share: f64) -> bool {
    let digest = Sha256::digest(format!("holdout/{kind}/{user}"));
    let head: [u8; 8] = digest[..8].try_into().expect("a SHA-256 digest has 32 bytes");
    // The top 53 bits, as a uniform draw in [0, 1).
    let draw = (u64::from_be_bytes(head) >> 11) as f64 / (1u64 << 53) as f64;
    draw < share
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> Vec<UserId> {
        (0..n).map(|i| UserId::parse(&format!("user-{i}")).unwrap()).collect()
    }

    #[test]
    fn media_are_named_and_parsed_back() {
        let media = Media::parse(["email", "push"]).unwrap();
        assert_eq!(media.names(), ["push", "email"]);
        assert!(media.contains(Medium::Push) && !media.contains(Medium::Webhook));
        assert_eq!(Media::parse(["push", "sms"]), Err("sms".to_owned()));
        assert_eq!(Media::parse([]).unwrap().names(), Vec::<&str>::new());
        let everywhere = Preferences::default();
        assert!(Medium::ALL.iter().all(|m| everywhere.allows_marketing_by(*m)));
        let push_only =
            Preferences { marketing_channels: Some([Medium::Push].into_iter().collect()), ..everywhere };
        assert!(push_only.allows_marketing_by(Medium::Push) && !push_only.allows_marketing_by(Medium::Email));
    }

    #[test]
    fn the_held_out_share_is_the_configured_one_and_stable() {
        let users = users(100_000);
        for share in [0.0, 0.05, 0.1, 0.5] {
            let held = users.iter().filter(|u| held_out(u, "NEW_TOKEN_ARRIVAL", share)).count();
            let seen = held as f64 / users.len() as f64;
            // Four standard deviations of a binomial share over 100,000 users.
            let tolerance = 4.0 * (share * (1.0 - share) / users.len() as f64).sqrt();
            assert!((seen - share).abs() <= tolerance, "share {share}: {seen}");
        }
        let first: Vec<bool> = users.iter().map(|u| held_out(u, "SEGMENT_UPGRADE", 0.1)).collect();
        let again: Vec<bool> = users.iter().map(|u| held_out(u, "SEGMENT_UPGRADE", 0.1)).collect();
        assert_eq!(first, again, "the same users every time");
        // Independent across triggers: both holdouts together are about share².
        let both = users
            .iter()
            .filter(|u| held_out(u, "SEGMENT_UPGRADE", 0.1) && held_out(u, "NEW_TOKEN_ARRIVAL", 0.1))
            .count();
        assert!((700..=1_300).contains(&both), "{both} held out of both");
        // A larger share holds out everyone a smaller one did.
        assert!(users.iter().all(|u| !held_out(u, "K", 0.05) || held_out(u, "K", 0.2)));
    }

    const MARKETING: Trigger = Trigger { purpose: Purpose::Marketing, holdout_share: 0.0 };
    const NOTICE: Trigger = Trigger { purpose: Purpose::Transactional, holdout_share: 0.0 };
    const CAPS: Caps = Caps { per_day: 3, per_week: 10 };

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A user in Seoul who agreed to marketing, day and night, under no rule.
    fn consenting() -> Recipient {
        let since = Some(at("2026-01-01T00:00:00Z"));
        Recipient {
            protective: false,
            preferences: Preferences {
                marketing_since: since,
                night_marketing_since: since,
                marketing_channels: None,
                quiet_hours: None,
            },
            zone: TimeZone::get("Asia/Seoul").unwrap(),
            sent_last_day: 0,
            sent_last_week: 0,
            timing: None,
        }
    }

    /// A change to a recipient, in a table of cases.
    type Change = fn(&mut Recipient);

    fn judge(trigger: Trigger, r: &Recipient, now: &str) -> Verdict {
        verdict("SEGMENT_UPGRADE", &UserId::parse("u1").unwrap(), &trigger, &CAPS, r, at(now))
    }

    #[test]
    fn what_forbids_suppresses_marketing_and_notices_go_regardless() {
        let noon = "2026-05-01T03:00:00Z"; // 12:00 in Seoul
        assert_eq!(judge(MARKETING, &consenting(), noon), Verdict::Send);
        let cases: [(Change, &str); 5] = [
            (|r| r.protective = true, "protective_policy"),
            (|r| r.preferences.marketing_since = None, "no_marketing_consent"),
            (|r| r.sent_last_day = 3, "frequency_cap"),
            (|r| r.sent_last_week = 10, "frequency_cap"),
            (|r| (r.protective, r.preferences.marketing_since) = (true, None), "protective_policy"),
        ];
        for (change, reason) in cases {
            let mut r = consenting();
            change(&mut r);
            assert_eq!(judge(MARKETING, &r, noon), Verdict::Suppress(reason));
            assert_eq!(judge(NOTICE, &r, noon), Verdict::Send, "a notice is not marketing: {reason}");
        }
        let everyone = Trigger { purpose: Purpose::Transactional, holdout_share: MAX_HOLDOUT_SHARE };
        let free = consenting();
        let held = users(200)
            .iter()
            .filter(|u| verdict("K", u, &everyone, &CAPS, &free, at(noon)) == Verdict::Suppress("holdout"))
            .count();
        assert!((60..=140).contains(&held), "{held} of 200 at one half");
        assert!(Trigger { holdout_share: 0.6, ..NOTICE }.validate().is_err());
        assert!(Trigger { holdout_share: -0.1, ..NOTICE }.validate().is_err());
    }

    #[test]
    fn quiet_hours_and_the_night_rule_wait_in_the_users_own_zone() {
        let mut r = consenting();
        r.preferences.night_marketing_since = None;
        // 22:30 in Seoul: marketing waits for 08:00 there; a notice goes.
        let night = "2026-05-01T13:30:00Z";
        let morning = Verdict::Defer { until: at("2026-05-01T23:00:00Z"), reason: "night_without_consent" };
        assert_eq!(judge(MARKETING, &r, night), morning);
        assert_eq!(judge(NOTICE, &r, night), Verdict::Send);
        // The same instant is 15:30 in Berlin (summer time): it goes.
        r.zone = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(judge(MARKETING, &r, night), Verdict::Send);
        // 07:59 in Berlin is night still; 08:00 is not.
        let waits = judge(MARKETING, &r, "2026-05-01T05:59:00Z");
        assert_eq!(
            waits,
            Verdict::Defer { until: at("2026-05-01T06:00:00Z"), reason: "night_without_consent" }
        );
        assert_eq!(judge(MARKETING, &r, "2026-05-01T06:00:00Z"), Verdict::Send);
        // The user's quiet hours hold everything back, notices too, across midnight.
        r.preferences.quiet_hours = Some(QuietHours::parse("23:00-07:30").unwrap());
        let quiet = Verdict::Defer { until: at("2026-05-02T05:30:00Z"), reason: "quiet_hours" };
        assert_eq!(judge(NOTICE, &r, "2026-05-01T22:10:00Z"), quiet, "00:10 in Berlin");
        assert_eq!(judge(NOTICE, &r, "2026-05-01T21:00:00Z"), quiet, "23:00 in Berlin");
        assert_eq!(judge(NOTICE, &r, "2026-05-01T20:59:00Z"), Verdict::Send, "22:59 in Berlin");
    }

    #[test]
    fn quiet_hours_are_read_strictly() {
        let q = QuietHours::parse("22:00-07:30").unwrap();
        assert_eq!((q.to_string(), q.minutes()), ("22:00-07:30".to_owned(), (1320, 450)));
        assert_eq!(QuietHours::from_minutes(1320, 450), Some(q));
        for bad in
            ["22:00", "22-07", "24:00-07:00", "22:60-07:00", "07:00-07:00", "7:00-8:00", "", "22:00-07:00x"]
        {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
    }
}
