//! The rule for changing a user's own limits: a break or an exclusion under way runs to its
//! end. Protection that can be lifted in the moment it matters does not protect.
//!
//! Decided here, executed by each store inside the transaction that writes the new limits,
//! so two concurrent changes cannot each pass the check and undo one another.

use jiff::Timestamp;

use crate::protection::Limits;

/// A change refused because it would end a running cool-off or exclusion early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` runs until {until} and cannot end earlier")]
pub struct Locked {
    /// `cool_off_until` or `excluded_until`.
    pub field: &'static str,
    pub until: Timestamp,
}

/// The limits after asking for `wanted` while `current` hold, at `now`.
pub fn replace(current: &Limits, wanted: Limits, now: Timestamp) -> Result<Limits, Locked> {
    for (field, running, asked) in [
        ("cool_off_until", current.cool_off_until, wanted.cool_off_until),
        ("excluded_until", current.excluded_until, wanted.excluded_until),
    ] {
        if let Some(until) = running.filter(|u| *u > now)
            && asked.is_none_or(|a| a < until)
        {
            return Err(Locked { field, until });
        }
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1_000 + hours)
    }

    #[test]
    fn a_running_lock_can_grow_but_not_shrink_or_vanish() {
        let now = at(0);
        let running = Limits { excluded_until: Some(at(10)), ..Limits::default() };
        let longer = Limits { excluded_until: Some(at(20)), ..Limits::default() };
        assert_eq!(replace(&running, longer, now), Ok(longer));
        let shorter = Limits { excluded_until: Some(at(5)), ..Limits::default() };
        assert_eq!(replace(&running, shorter, now), Err(Locked { field: "excluded_until", until: at(10) }));
        assert_eq!(
            replace(&running, Limits::default(), now).map_err(|l| l.field),
            Err("excluded_until"),
            "leaving it out would lift it"
        );
        let cool = Limits { cool_off_until: Some(at(1)), ..Limits::default() };
        assert_eq!(replace(&cool, Limits::default(), now).map_err(|l| l.field), Err("cool_off_until"));
    }

    #[test]
    fn an_ended_lock_no_longer_binds() {
        let ended = Limits { cool_off_until: Some(at(-1)), daily_spend_tokens: Some(5), ..Limits::default() };
        assert_eq!(replace(&ended, Limits::default(), at(0)), Ok(Limits::default()));
    }
}
