//! Streak reminders: a user who has played several business days in a row is reminded, on
//! the next day at a set hour, to play again before the streak breaks. The nightly batch
//! writes the reminder; when it is claimed, [`timing`] holds it until the hour and drops it
//! once it no longer applies (the user played that day already, or the day has passed).

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use serde_json::json;

use super::Notification;
use super::policy::Verdict;
use crate::ids::UserId;
use crate::streak::Streak;
use crate::time::{BusinessZone, add_days};

pub const STREAK_REMINDER: &str = "STREAK_REMINDER";

/// The reminder for `user`, whose run of `streak` play days ended on business day `day`:
/// it is for the day after. One per user and day.
pub fn streak_reminder(user: &UserId, day: Date, streak: u32) -> Notification {
    Notification {
        kind: STREAK_REMINDER,
        user: user.clone(),
        dedupe_key: format!("streak-reminder/{day}/{user}"),
        payload: json!({"streak": streak, "day": day.to_string()}),
    }
}

/// When the reminder `payload` may go, given the user's streak now: `None` when it may go
/// now; a deferral until `at` on the day after the run's last day; a suppression once the
/// user played on or after that day (`streak_kept`), or once that day is over (`expired`).
pub fn timing(
    payload: &serde_json::Value,
    streak: &Streak,
    zone: &BusinessZone,
    at: Time,
    now: Timestamp,
) -> Option<Verdict> {
    let Some(day) = payload["day"].as_str().and_then(|d| d.parse::<Date>().ok()) else {
        return Some(Verdict::Suppress("expired"));
    };
    let Some(reminder_day) = add_days(day, 1) else { return Some(Verdict::Suppress("expired")) };
    if streak.last_play_day.is_some_and(|last| last > day) {
        return Some(Verdict::Suppress("streak_kept"));
    }
    if zone.day_of(now) > reminder_day {
        return Some(Verdict::Suppress("expired"));
    }
    let due = reminder_day.to_datetime(at).to_zoned(zone.tz().clone()).ok()?.timestamp();
    (now < due).then_some(Verdict::Defer { until: due, reason: "reminder_time" })
}

#[cfg(test)]
mod tests {
    use jiff::civil::time;

    use super::*;

    #[test]
    fn a_reminder_waits_for_its_hour_and_lapses_once_kept_or_past() {
        let zone = BusinessZone::default(); // Asia/Seoul
        let day: Date = "2026-05-01".parse().unwrap();
        let payload = streak_reminder(&UserId::parse("u1").unwrap(), day, 4).payload;
        let mut streak = Streak::default();
        for d in 28..=30 {
            streak.record(format!("2026-04-{d}").parse().unwrap());
        }
        streak.record(day);
        let seoul = |at: &str| -> Timestamp {
            format!("{at}+09:00[Asia/Seoul]").parse::<jiff::Zoned>().unwrap().timestamp()
        };
        let at = time(19, 0, 0, 0);
        let due = seoul("2026-05-02T19:00:00");
        assert_eq!(
            timing(&payload, &streak, &zone, at, seoul("2026-05-02T04:00:00")),
            Some(Verdict::Defer { until: due, reason: "reminder_time" })
        );
        assert_eq!(timing(&payload, &streak, &zone, at, due), None);
        assert_eq!(timing(&payload, &streak, &zone, at, seoul("2026-05-02T23:59:00")), None);
        assert_eq!(
            timing(&payload, &streak, &zone, at, seoul("2026-05-03T00:00:00")),
            Some(Verdict::Suppress("expired"))
        );
        let mut kept = streak;
        kept.record("2026-05-02".parse().unwrap());
        assert_eq!(timing(&payload, &kept, &zone, at, due), Some(Verdict::Suppress("streak_kept")));
    }
}
