//! What a night writes to the outbox beside the upgrades' rewards: the operator's segment
//! moves, streak reminders, and the invitations of likely churners (the hook a churn model
//! calls with its scores).

use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::ids::UserId;
use playpulse_core::ingest::MAX_EVENTS_PER_BATCH;
use playpulse_core::notify::{self, Notification, streaks};
use playpulse_core::time::BusinessZone;
use playpulse_store::{Store, Transition};

use crate::config::Config;

/// Enqueues, for the operator's webhook, the night's entries into and exits from the
/// segments `watched` names; a re-run of the night enqueues none twice (one key per user and
/// night). How many moves there were.
pub async fn segment_moves(
    store: &dyn Store,
    watched: &[String],
    as_of: Date,
    transitions: &[Transition],
    now: Timestamp,
) -> anyhow::Result<u64> {
    let watches = |segment: Option<&String>| segment.is_some_and(|s| watched.contains(s));
    let moves: Vec<_> = transitions
        .iter()
        .filter(|t| t.from.as_ref() != Some(&t.to) && (watches(t.from.as_ref()) || watches(Some(&t.to))))
        .map(|t| notify::segment_move(&t.user, &as_of.to_string(), t.from.as_deref(), &t.to))
        .collect();
    enqueue(store, &moves, now).await
}

/// Enqueues a reminder for each user whose run of play days reached
/// `notify.streak_reminder.min_days` on `as_of`, to play again the next day; only when that
/// day is today (a night caught up later would remind of a day that is over).
pub async fn streak_reminders(
    store: &dyn Store,
    config: &Config,
    as_of: Date,
    now: Timestamp,
) -> anyhow::Result<u64> {
    let min_days = config.notify.streak_reminder.min_days;
    let today = BusinessZone::parse(&config.business.business_tz)?.day_of(now);
    if min_days == 0 || today.yesterday()? != as_of {
        return Ok(0);
    }
    let runs = store.streaks_ending(as_of, min_days).await?;
    let reminders: Vec<_> =
        runs.iter().map(|(user, run)| streaks::streak_reminder(user, as_of, *run)).collect();
    enqueue(store, &reminders, now).await
}

/// Invites each user a churn model scored at `notify.churn_invitation.min_probability` or
/// more of leaving to the partner event ([`notify::churn_invitation`]), at most once per
/// user per ISO week of sending (nights caught up together invite once); how many were
/// scored so. The model calls it after scoring a night.
pub async fn churn_invitations(
    store: &dyn Store,
    config: &Config,
    as_of: Date,
    scores: &[(UserId, f64)],
    now: Timestamp,
) -> anyhow::Result<u64> {
    let min = config.notify.churn_invitation.min_probability;
    let today = BusinessZone::parse(&config.business.business_tz)?.day_of(now);
    let invitations: Vec<Notification> = scores
        .iter()
        .filter(|(_, probability)| *probability >= min)
        .map(|(user, probability)| notify::churn_invitation(user, as_of, today, *probability))
        .collect();
    enqueue(store, &invitations, now).await
}

/// Invites the night's whale candidates (user and forecast) to the VIP table; how many
/// invitations were offered to the outbox, which keeps one per user and month.
pub async fn vip_invitations(
    store: &dyn Store,
    config: &Config,
    as_of: Date,
    candidates: &[(UserId, f64)],
    now: Timestamp,
) -> anyhow::Result<u64> {
    let today = BusinessZone::parse(&config.business.business_tz)?.day_of(now);
    let invitations: Vec<Notification> = candidates
        .iter()
        .map(|(user, forecast)| notify::vip_invitation(user, as_of, today, *forecast))
        .collect();
    enqueue(store, &invitations, now).await
}

/// Enqueues `notes` in batches; how many there were.
async fn enqueue(store: &dyn Store, notes: &[Notification], now: Timestamp) -> anyhow::Result<u64> {
    for chunk in notes.chunks(MAX_EVENTS_PER_BATCH) {
        store.enqueue(chunk.to_vec(), now).await?;
    }
    Ok(notes.len() as u64)
}
