//! The dispatcher: claims due notifications, sends each through its channel, and records
//! how the attempt ended.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use playpulse_core::ids::UserId;
use playpulse_core::notify::for_operator;
use playpulse_core::notify::policy::{Medium, Purpose, Recipient, Verdict, verdict};
use playpulse_core::notify::streaks::{self, STREAK_REMINDER};
use playpulse_core::protection::HarmThresholds;
use playpulse_core::time::{BusinessZone, Clock};
use playpulse_store::{Settlement, Store, StoreError, StoredNotification, UserRecord};
use serde_json::Value;

use crate::backoff::Backoff;
use crate::config::NotifyConfig;

/// How one send went.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Delivered,
    /// Worth another attempt, not sooner than `retry_after` when the receiver asked.
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Refused for good: another attempt would be refused alike.
    Refused {
        error: String,
    },
    /// The channel has no way to this user (no device of its kind): the next one is tried.
    Unreachable,
}

/// Where notifications go out.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The name recorded with what it delivered.
    fn name(&self) -> &'static str;

    /// How it reaches users, as their consent to marketing names it.
    fn medium(&self) -> Medium;

    /// Sends one notification (attempt `n.attempts`, its texts filled) to its user `to` at
    /// `now`.
    async fn send(&self, n: &StoredNotification, to: &UserRecord, now: Timestamp) -> Attempt;

    /// Whether it reaches the operator's own systems, which get the notifications meant for
    /// them ([`playpulse_core::notify::for_operator`]); the user's devices do not.
    fn reaches_operator(&self) -> bool {
        false
    }
}

/// Where a notification's proposal comes from: the recommendation policy, asked when the
/// notification goes out ("use them now" beside tokens that just arrived).
pub trait Proposals: Send + Sync {
    /// The proposal to make the user `to` now, as the recommendations API shows it; `None`
    /// when there is none to make (the protective policy applies).
    fn proposal_for(&self, to: &UserRecord) -> Option<Value>;
}

/// The product's rules the dispatcher applies: the harm thresholds that put a user under the
/// protective policy, read in the business zone's days.
#[derive(Debug, Clone)]
pub struct Protection {
    pub harm: HarmThresholds,
    pub zone: BusinessZone,
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    /// Tried in turn until one reaches the user.
    channels: Vec<Arc<dyn Channel>>,
    clock: Arc<dyn Clock>,
    config: NotifyConfig,
    protection: Protection,
    backoff: Backoff,
    proposals: Option<Arc<dyn Proposals>>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        channels: Vec<Arc<dyn Channel>>,
        clock: Arc<dyn Clock>,
        config: NotifyConfig,
        protection: Protection,
    ) -> Self {
        let backoff = Backoff {
            first: Duration::from_secs(config.backoff_first_s),
            max: Duration::from_secs(config.backoff_max_s),
        };
        Self { store, channels, clock, config, protection, backoff, proposals: None }
    }

    /// Attaches a proposal from `proposals` to the kinds `notify.attach_proposal` names.
    pub fn with_proposals(mut self, proposals: Arc<dyn Proposals>) -> Self {
        self.proposals = Some(proposals);
        self
    }

    /// Delivers until the task is dropped: a look at the outbox right after a full one,
    /// `poll_ms` after one that found nothing due or failed.
    pub async fn run(self) {
        let pause = Duration::from_millis(self.config.poll_ms);
        loop {
            match self.dispatch_once().await {
                Ok(claimed) if claimed == self.config.batch => continue,
                Ok(_) => {}
                // The rows stay in the outbox; their leases lapse and they are claimed again.
                Err(err) => tracing::warn!(error = %err, "the outbox could not be read"),
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Claims the notifications due now and sends them, `concurrency` users at a time; how
    /// many were claimed.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut claimed =
            self.store.claim_notifications(now, after(now, self.config.lease()), self.config.batch).await?;
        // Oldest first (a claim's rows come back in no order): the first due, the first sent.
        claimed.sort_by_key(|n| (n.next_attempt_at, n.id));
        let count = claimed.len();
        futures::stream::iter(by_user(claimed))
            .for_each_concurrent(self.config.concurrency, |theirs| async move {
                for n in theirs {
                    self.deliver(n).await;
                }
            })
            .await;
        Ok(count)
    }

    async fn deliver(&self, n: StoredNotification) {
        let (settlement, channel) = match self.verdict(&n).await {
            // The lease lapses and the row is claimed again.
            Err(err) => {
                tracing::warn!(id = n.id, error = %err, "the recipient could not be read");
                return;
            }
            Ok(None) => (Settlement::Suppressed { reason: "unknown_user".to_owned() }, NO_CHANNEL),
            Ok(Some((Verdict::Suppress(reason), _))) => {
                (Settlement::Suppressed { reason: reason.to_owned() }, NO_CHANNEL)
            }
            Ok(Some((Verdict::Defer { until, reason }, _))) => {
                (Settlement::Deferred { until, reason: reason.to_owned() }, NO_CHANNEL)
            }
            Ok(Some((Verdict::Send, to))) if for_operator(&n.kind) => self.send(&n, &to).await,
            Ok(Some((Verdict::Send, to))) => self.send(&self.prepared(&n, &to), &to).await,
        };
        self.settle(&n, settlement, channel).await;
    }

    /// Sends `n` through the first channel that reaches its user (the operator, for theirs);
    /// how that went, and the channel's name.
    async fn send(&self, n: &StoredNotification, to: &UserRecord) -> (Settlement, &'static str) {
        let operator = for_operator(&n.kind);
        let marketing = !operator && self.config.trigger(&n.kind).purpose == Purpose::Marketing;
        // A medium the user's marketing consent leaves out is passed over, and said so when
        // nothing else reaches them.
        let mut declined = false;
        for channel in self.channels.iter().filter(|c| !operator || c.reaches_operator()) {
            if marketing && !to.preferences.allows_marketing_by(channel.medium()) {
                declined = true;
                continue;
            }
            let settlement = match channel.send(n, to, self.clock.now()).await {
                Attempt::Unreachable => continue,
                Attempt::Delivered => Settlement::Sent { channel: channel.name().to_owned() },
                Attempt::Failed { error, .. } if n.attempts >= i64::from(self.config.max_attempts) => {
                    Settlement::Dead { error: format!("{error} (after {} attempts)", n.attempts) }
                }
                Attempt::Failed { error, retry_after } => {
                    let wait = self.backoff.wait(n.attempts, retry_after, &mut rand::rng());
                    Settlement::Failed { error, retry_at: after(self.clock.now(), wait) }
                }
                Attempt::Refused { error } => Settlement::Dead { error },
            };
            return (settlement, channel.name());
        }
        let reason = if declined { "no_channel_consent" } else { "unreachable" };
        (Settlement::Suppressed { reason: reason.to_owned() }, NO_CHANNEL)
    }

    /// `n` as it goes out: its title and body made from its figures by its kind's template
    /// (marked as advertising when it is marketing), and the proposal of the moment when its
    /// kind carries one.
    fn prepared(&self, n: &StoredNotification, to: &UserRecord) -> StoredNotification {
        let mut out = n.clone();
        let Value::Object(payload) = &mut out.payload else { return out };
        if let Some(Value::Object(mut texts)) = self.config.template(&n.kind).map(|t| t.render(&n.payload)) {
            if self.config.trigger(&n.kind).purpose == Purpose::Marketing {
                mark_advertising(&mut texts["title"]);
            }
            payload.extend(texts);
        }
        if let Some(source) = &self.proposals
            && self.config.attach_proposal.contains(&n.kind)
            && let Some(proposal) = source.proposal_for(to)
        {
            payload.insert("proposal".to_owned(), proposal);
        }
        out
    }

    /// What the rules say of `n` now, from what the store holds of its user, with that user
    /// (read once for the rules, the texts and the channels); `None` for a user it does not
    /// know.
    async fn verdict(&self, n: &StoredNotification) -> Result<Option<(Verdict, UserRecord)>, StoreError> {
        let Ok(user) = UserId::parse(&n.user_id) else { return Ok(None) };
        let Some(record) = self.store.user(&user).await? else { return Ok(None) };
        if for_operator(&n.kind) {
            return Ok(Some((Verdict::Send, record)));
        }
        let now = self.clock.now();
        let state = &record.state;
        let Protection { harm, zone } = &self.protection;
        let markers = state.tally.markers(&state.limits, harm, zone.day_of(now), now);
        let trigger = self.config.trigger(&n.kind);
        // Caps bound marketing only: a notice needs no count.
        let (sent_last_day, sent_last_week) = if trigger.purpose == Purpose::Marketing {
            let (day, week) =
                (now - SignedDuration::from_hours(24), now - SignedDuration::from_hours(7 * 24));
            self.store.sent_since(&user, day, week).await?
        } else {
            (0, 0)
        };
        let timing = if n.kind == STREAK_REMINDER {
            let at = self.config.streak_reminder.time().unwrap_or(NOON);
            streaks::timing(&n.payload, &state.streak, zone, at, now)
        } else {
            None
        };
        let recipient = Recipient {
            protective: markers.any(),
            preferences: record.preferences,
            zone: record
                .tz
                .as_deref()
                .and_then(|tz| TimeZone::get(tz).ok())
                .unwrap_or_else(|| zone.tz().clone()),
            sent_last_day,
            sent_last_week,
            timing,
        };
        Ok(Some((verdict(&n.kind, &user, &trigger, &self.config.caps, &recipient, now), record)))
    }

    async fn settle(&self, n: &StoredNotification, settlement: Settlement, channel: &'static str) {
        let outcome = match &settlement {
            Settlement::Sent { .. } => "sent",
            Settlement::Failed { .. } => "failed",
            Settlement::Dead { .. } => "dead",
            Settlement::Suppressed { .. } => "suppressed",
            Settlement::Deferred { .. } => "deferred",
        };
        metrics::counter!("playpulse_notifications_total", "channel" => channel, "outcome" => outcome)
            .increment(1);
        let now = self.clock.now();
        match self.store.settle_notification(n.id, n.claim, now, settlement).await {
            Ok(true) => {}
            Ok(false) => tracing::info!(id = n.id, "a later claim of the notification settles it"),
            // Unrecorded, the attempt is made again when the lease lapses (at least once).
            Err(err) => tracing::warn!(id = n.id, error = %err, "a delivery attempt was not recorded"),
        }
    }
}

/// Korea's Network Act asks that advertising say so at the start of its title: "(광고)".
fn mark_advertising(title: &mut Value) {
    for (lang, mark) in [("ko", "(광고)"), ("en", "(Ad)")] {
        if let Some(text) = title[lang].as_str() {
            title[lang] = format!("{mark} {text}").into();
        }
    }
}

/// A reminder's hour when the config's is unreadable (it is checked when the config loads).
const NOON: jiff::civil::Time = jiff::civil::time(12, 0, 0, 0);

/// The `channel` label of an outcome no channel had a part in.
const NO_CHANNEL: &str = "none";

/// The notifications grouped by user, in the order of each user's first: one user's go one
/// after another, so that the caps count the send before (users' go side by side).
fn by_user(notifications: Vec<StoredNotification>) -> Vec<Vec<StoredNotification>> {
    let mut groups: Vec<Vec<StoredNotification>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for n in notifications {
        match group_of.entry(n.user_id.clone()) {
            Entry::Occupied(at) => groups[*at.get()].push(n),
            Entry::Vacant(at) => {
                at.insert(groups.len());
                groups.push(vec![n]);
            }
        }
    }
    groups
}

/// The instant `wait` after `now` (the last one there is, past it).
fn after(now: Timestamp, wait: Duration) -> Timestamp {
    let wait = SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX);
    now.saturating_add(wait).unwrap_or(Timestamp::MAX)
}
