//! The best time window: the hour a user is most likely active, from their own activity by
//! hour over the batch window, smoothed toward their segment's curve when their data is thin.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

/// Weight, in events, of the segment's curve: a user with this many events of their own
/// counts as much as their segment.
pub const PRIOR_EVENTS: f64 = 20.0;
/// The window when nothing is known, in the user's zone.
pub const DEFAULT_START_HOUR: usize = 20;

/// A one-hour window in the user's zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// "HH:MM" in `tz`: whole hours of the business zone, which land on the half or
    /// quarter hour in zones such as Asia/Kolkata or Asia/Kathmandu.
    pub start: String,
    pub end: String,
    pub tz: String,
    /// How much of the estimate rests on the user's own activity: n / (n + 20) for n events
    /// (0 when only the segment or the default speaks).
    pub confidence: f64,
}

/// Minutes in a day, for wrapping a shifted window around midnight.
const DAY_MINUTES: i32 = 24 * 60;

/// The best hour for a user, in their own zone (`user_tz`, an IANA name) or in the business
/// zone when theirs is unknown or not a zone: [`best_window`] shifted by the offset between
/// the two zones at `now`, to the minute.
pub fn best_window_for(
    own: Option<&[i64; 24]>,
    typical: Option<&[i64; 24]>,
    business: &TimeZone,
    user_tz: Option<&str>,
    now: Timestamp,
) -> Window {
    let user = user_tz.and_then(|name| TimeZone::get(name).ok().map(|zone| (name, zone)));
    match user {
        Some((name, zone)) => {
            let shift_s = zone.to_offset(now).seconds() - business.to_offset(now).seconds();
            best_window(own, typical, shift_s / 60, name)
        }
        None => best_window(own, typical, 0, business.iana_name().unwrap_or("UTC")),
    }
}

/// The best hour from activity counted by business hour (`own`, `typical`: 24 counts from
/// 00 to 23 in the business zone), shifted by `shift_minutes` into the user's zone (`tz`).
pub fn best_window(
    own: Option<&[i64; 24]>,
    typical: Option<&[i64; 24]>,
    shift_minutes: i32,
    tz: &str,
) -> Window {
    let n = own.map_or(0, |h| h.iter().sum::<i64>()).max(0) as f64;
    let typical_total = typical.map_or(0, |h| h.iter().sum::<i64>()).max(0) as f64;
    let start = if n == 0.0 && typical_total == 0.0 {
        None
    } else {
        let score = |hour: usize| {
            let mine = own.map_or(0, |h| h[hour]) as f64;
            let prior =
                if typical_total > 0.0 { typical.map_or(0, |h| h[hour]) as f64 / typical_total } else { 0.0 };
            // Posterior share of the hour: own counts plus the prior's pseudo-counts.
            (mine + PRIOR_EVENTS * prior) / (n + PRIOR_EVENTS)
        };
        // Ties go to the earliest hour, for a stable answer.
        (0..24).fold(None, |best: Option<(usize, f64)>, h| match best {
            Some((_, s)) if s >= score(h) => best,
            _ => Some((h, score(h))),
        })
    };
    // The default is already in the user's zone; a business hour moves by the zones' offset.
    let local_minute = match start {
        None => i32::try_from(DEFAULT_START_HOUR).unwrap_or(0) * 60,
        Some((h, _)) => (i32::try_from(h).unwrap_or(0) * 60 + shift_minutes).rem_euclid(DAY_MINUTES),
    };
    let clock = |minute: i32| {
        let minute = minute.rem_euclid(DAY_MINUTES);
        format!("{:02}:{:02}", minute / 60, minute % 60)
    };
    Window {
        start: clock(local_minute),
        end: clock(local_minute + 60),
        tz: tz.to_owned(),
        confidence: (n / (n + PRIOR_EVENTS) * 100.0).round() / 100.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: usize, count: i64) -> [i64; 24] {
        let mut h = [0; 24];
        h[hour] = count;
        h
    }

    #[test]
    fn own_activity_wins_once_there_is_enough() {
        let w = best_window(Some(&at(21, 80)), Some(&at(9, 1000)), 0, "Asia/Seoul");
        assert_eq!((w.start.as_str(), w.end.as_str(), w.confidence), ("21:00", "22:00", 0.8));
    }

    #[test]
    fn thin_data_leans_on_the_segment() {
        let w = best_window(Some(&at(21, 5)), Some(&at(9, 1000)), 0, "Asia/Seoul");
        assert_eq!((w.start.as_str(), w.confidence), ("09:00", 0.2));
    }

    #[test]
    fn nothing_known_gives_the_default_and_no_confidence() {
        let w = best_window(None, None, 0, "Asia/Seoul");
        assert_eq!((w.start.as_str(), w.end.as_str(), w.confidence), ("20:00", "21:00", 0.0));
    }

    #[test]
    fn hours_move_into_the_users_zone_and_wrap() {
        // 23:00 in Seoul is 15:00 in Berlin in winter (-8 hours), and 01:00 next day in +2.
        assert_eq!(best_window(Some(&at(23, 50)), None, -8 * 60, "Europe/Berlin").start, "15:00");
        let w = best_window(Some(&at(23, 50)), None, 2 * 60, "Pacific/Guam");
        assert_eq!((w.start.as_str(), w.end.as_str()), ("01:00", "02:00"));
    }

    #[test]
    fn half_hour_zones_keep_their_half_hour() {
        let seoul = TimeZone::get("Asia/Seoul").unwrap();
        let winter: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        let noon = at(12, 50);
        let in_zone = |tz: &str| {
            let w = best_window_for(Some(&noon), None, &seoul, Some(tz), winter);
            (w.start, w.end, w.tz)
        };
        assert_eq!(in_zone("Asia/Kolkata"), ("08:30".into(), "09:30".into(), "Asia/Kolkata".into()));
        assert_eq!(in_zone("America/St_Johns"), ("23:30".into(), "00:30".into(), "America/St_Johns".into()));
        assert_eq!(in_zone("Asia/Kathmandu").0, "08:45");
        // Newfoundland summer time is an hour later in the user's day.
        let summer: Timestamp = "2026-05-01T03:00:00Z".parse().unwrap();
        assert_eq!(
            best_window_for(Some(&noon), None, &seoul, Some("America/St_Johns"), summer).start,
            "00:30"
        );
        // Unknown zone: the business zone, unshifted.
        let w = best_window_for(Some(&noon), None, &seoul, None, winter);
        assert_eq!((w.start.as_str(), w.tz.as_str()), ("12:00", "Asia/Seoul"));
    }
}
