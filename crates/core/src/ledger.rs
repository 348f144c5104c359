//! Ledger rules: how one event changes one user's state.
//!
//! The ledger is append-only: every balance change is an entry carrying the event id, the
//! delta, the reason and the balance after it. Invariant: a user's balance equals the sum of
//! their entries' deltas and is never below zero.

use jiff::Timestamp;
use serde::Serialize;

use crate::event::{Event, EventType, RejectCode, Rejection};
use crate::ids::{EventId, UserId};
use crate::protection::{Limits, Tally};
use crate::streak::Streak;
use crate::time::BusinessZone;
use crate::tokens::Tokens;

/// One append-only ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub event_id: EventId,
    pub user: UserId,
    pub delta: Tokens,
    pub reason: &'static str,
    pub balance_after: Tokens,
    /// The event's own timestamp (not the time of recording).
    #[serde(with = "jiff::fmt::serde::timestamp::millisecond::required")]
    pub ts: Timestamp,
}

/// Everything the write path keeps per user: balance and hot metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    pub balance: Tokens,
    /// Events applied to this user so far; orders cache writes (a newer version wins).
    pub version: i64,
    pub first_seen: Timestamp,
    pub last_action: Timestamp,
    pub streak: Streak,
    /// Set by the operator (profile); adult content needs it.
    pub age_verified: bool,
    /// Set by the user (limits endpoint); every spend is checked against them.
    pub limits: Limits,
    /// Counters of the limits and harm markers.
    pub tally: Tally,
}

impl UserState {
    /// The state of a user before their first event, seen at `ts`.
    pub fn new(ts: Timestamp) -> Self {
        Self {
            balance: Tokens::ZERO,
            version: 0,
            first_seen: ts,
            last_action: ts,
            streak: Streak::default(),
            age_verified: false,
            limits: Limits::default(),
            tally: Tally::default(),
        }
    }

    /// Whether the fields the hot cache holds (balance, version, times, streak) agree.
    pub fn same_hot_fields(&self, other: &UserState) -> bool {
        (self.balance, self.version, self.first_seen, self.last_action, self.streak)
            == (other.balance, other.version, other.first_seen, other.last_action, other.streak)
    }

    /// Applies one event. On rejection the state is left exactly as it was.
    pub fn apply(&mut self, event: &Event, zone: &BusinessZone) -> Result<Option<LedgerEntry>, Rejection> {
        if event.adult && !self.age_verified {
            return Err(Rejection::new(
                RejectCode::AgeVerificationRequired,
                "the content is for adults (19+) and the user is not age-verified",
            ));
        }
        // Limits are judged on the server's clock at arrival: `ts` is the sender's to choose.
        let now = event.received_at;
        let mut tally = self.tally;
        match event.movement {
            Some(spend) if spend.delta < Tokens::ZERO => {
                tally.check_spend(&self.limits, Tokens(-spend.delta.0), now, zone)?;
            }
            Some(bought) if bought.is_purchase() => {
                let capped = event.purchase_within_daily_limit;
                tally.check_purchase(&self.limits, bought.delta, capped, now, zone)?;
            }
            _ => {}
        }
        let entry = match event.movement {
            None => None,
            Some(movement) => {
                let after = self.balance.checked_add(movement.delta).ok_or_else(|| {
                    Rejection::new(RejectCode::BalanceOverflow, "the balance would exceed the largest amount")
                })?;
                if after < Tokens::ZERO {
                    return Err(Rejection::new(
                        RejectCode::InsufficientBalance,
                        format!(
                            "balance {} is short of the {} tokens to spend",
                            self.balance, -movement.delta.0
                        ),
                    ));
                }
                debug_assert_eq!(self.balance.0 + movement.delta.0, after.0);
                self.tally = tally;
                self.balance = after;
                Some(LedgerEntry {
                    event_id: event.id,
                    user: event.user.clone(),
                    delta: movement.delta,
                    reason: movement.reason,
                    balance_after: after,
                    ts: event.ts,
                })
            }
        };
        self.version += 1;
        self.first_seen = self.first_seen.min(event.ts);
        self.last_action = self.last_action.max(event.ts);
        self.tally.record_partner(event, zone);
        if event.event_type == EventType::GamePlay {
            self.streak.record(zone.day_of(event.ts));
            self.tally.record_play(event, now, zone);
        }
        debug_assert!(self.balance >= Tokens::ZERO);
        Ok(entry)
    }
}
