//! Partner A's integration: who a partner is, how its requests are signed, what it may send
//! (visits and token rewards, each with its own transaction id), and the caps on rewards.
//!
//! A request is signed with HMAC-SHA256 over `"{timestamp}.{raw body}"` with a secret shared
//! with playpulse; the timestamp (Unix seconds) and the signature travel in headers. The
//! server's clock judges the timestamp: more than [`REPLAY_WINDOW`] away from it, the request
//! is refused, and within the window a byte-identical request is refused as a replay.

use std::fmt;

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::event::{Event, RejectCode, Rejection, ValidationPolicy};
use crate::ingest::Admit;
use crate::ledger::UserState;

/// The header that carries the request's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-playpulse-timestamp";
/// The header that carries `v1=<hex HMAC-SHA256>`; several comma-separated during a rotation.
pub const SIGNATURE_HEADER: &str = "x-playpulse-signature";
/// How far a request's timestamp may lie from the server's clock, either way.
pub const REPLAY_WINDOW: SignedDuration = SignedDuration::from_mins(5);
/// Largest accepted partner request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most events one partner request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 100;
/// Most signatures one request may carry (two cover a rotation): each costs an HMAC per
/// active secret.
pub const MAX_SIGNATURES: usize = 4;
/// Longest accepted partner transaction id, page or campaign id.
pub const MAX_REF_LEN: usize = 128;

/// A registered partner's id: 1 to 32 characters of `[a-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PartnerId(String);

impl PartnerId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-');
        (!raw.is_empty() && raw.len() <= 32 && raw.chars().all(ok)).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `v1=<hex>`: the signature of `body` sent at `ts_s` (Unix seconds) under `secret`.
pub fn sign(secret: &[u8], ts_s: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, ts_s, body).finalize().into_bytes()))
}

fn mac(secret: &[u8], ts_s: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(ts_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a signed request was refused before anything was read from its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// A header is absent or not in its documented form.
    Malformed,
    /// The timestamp lies more than [`REPLAY_WINDOW`] before the server's clock.
    Stale,
    /// The timestamp lies more than [`REPLAY_WINDOW`] after the server's clock.
    Future,
    /// No active secret produces the signature.
    Mismatch,
}

impl SignatureError {
    /// The stable wire code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "invalid_signature_header",
            Self::Stale => "stale_timestamp",
            Self::Future => "timestamp_in_future",
            Self::Mismatch => "invalid_signature",
        }
    }
}

/// A request whose signature verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Index of the secret that signed it.
    pub secret: usize,
    /// Its signed timestamp, Unix seconds.
    pub signed_at: i64,
}

/// Checks a request's headers against the partner's active secrets, as of `now`.
/// Comparisons are constant-time.
pub fn verify(
    secrets: &[&[u8]],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<Verified, SignatureError> {
    let ts_s: i64 = timestamp.and_then(|t| t.trim().parse().ok()).ok_or(SignatureError::Malformed)?;
    let sent: Vec<Vec<u8>> = signature
        .ok_or(SignatureError::Malformed)?
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .map(|text| hex::decode(text).map_err(|_| SignatureError::Malformed))
        .collect::<Result<_, _>>()?;
    if sent.is_empty() || sent.len() > MAX_SIGNATURES {
        return Err(SignatureError::Malformed);
    }
    let age = SignedDuration::from_secs(now.as_second().saturating_sub(ts_s));
    if age > REPLAY_WINDOW {
        return Err(SignatureError::Stale);
    }
    if age < -REPLAY_WINDOW {
        return Err(SignatureError::Future);
    }
    secrets
        .iter()
        .position(|secret| sent.iter().any(|sig| mac(secret, ts_s, body).verify_slice(sig).is_ok()))
        .map(|secret| Verified { secret, signed_at: ts_s })
        .ok_or(SignatureError::Mismatch)
}

/// What a partner sends: a visit or a token reward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PartnerEventIn {
    Visit {
        txn_id: String,
        user_id: String,
        ts: String,
        dwell_s: i64,
        actions: i64,
        #[serde(default)]
        page: Option<String>,
        #[serde(default)]
        campaign: Option<String>,
    },
    Reward {
        txn_id: String,
        user_id: String,
        ts: String,
        amount: i64,
        #[serde(default)]
        campaign: Option<String>,
    },
}

/// A validated partner event: the ledger event it becomes, and what `site_visits` or
/// `site_rewards` records of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerEvent {
    pub event: Event,
    /// The partner's own transaction id: a retry with it changes nothing.
    pub txn_id: String,
    pub site: Site,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    Visit { dwell_s: i64, actions: i64, page: Option<String>, campaign: Option<String> },
    Reward { amount: i64, campaign: Option<String> },
}

/// Namespace of the event ids derived from partner transaction ids.
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_2b7e_5f0d_4c3a_9e8b_7d6c_5b4a_3f21);

/// The event id of a partner's transaction: the same partner, kind and transaction id always
/// give the same id, so a retried reward is a duplicate, never a second credit.
pub fn event_id(partner: &PartnerId, kind: &str, txn_id: &str) -> Uuid {
    Uuid::new_v5(&EVENT_NAMESPACE, format!("{partner}/{kind}/{txn_id}").as_bytes())
}

fn reference(name: &str, value: Option<&str>) -> Result<(), Rejection> {
    match value {
        Some(text)
            if text.is_empty()
                || text.chars().count() > MAX_REF_LEN
                || text.chars().any(char::is_control) =>
        {
            Err(Rejection::new(
                RejectCode::InvalidProp,
                format!("`{name}` must be 1 to {MAX_REF_LEN} characters without control characters"),
            ))
        }
        _ => Ok(()),
    }
}

impl PartnerEvent {
    /// Validates one raw partner event, as of `now`, through the same rules as any event.
    pub fn parse(
        raw: &Value,
        partner: &PartnerId,
        policy: &ValidationPolicy,
        now: Timestamp,
    ) -> Result<Self, Rejection> {
        let input = PartnerEventIn::deserialize(raw)
            .map_err(|e| Rejection::new(RejectCode::InvalidEnvelope, format!("not a partner event: {e}")))?;
        let (kind, txn_id, user_id, ts, event_type, props, site) = match input {
            PartnerEventIn::Visit { txn_id, user_id, ts, dwell_s, actions, page, campaign } => {
                reference("page", page.as_deref())?;
                reference("campaign", campaign.as_deref())?;
                let props = json!({
                    "dwell_s": dwell_s, "actions": actions, "partner_id": partner.as_str(),
                    "txn_id": txn_id, "page": page, "campaign": campaign,
                });
                let site = Site::Visit { dwell_s, actions, page, campaign };
                ("visit", txn_id, user_id, ts, "PARTNER_VISIT", props, site)
            }
            PartnerEventIn::Reward { txn_id, user_id, ts, amount, campaign } => {
                reference("campaign", campaign.as_deref())?;
                let props = json!({
                    "amount": amount, "source": "partner", "partner_id": partner.as_str(),
                    "txn_id": txn_id, "campaign": campaign,
                });
                ("reward", txn_id, user_id, ts, "EARN_CYBER_TOKENS", props, Site::Reward { amount, campaign })
            }
        };
        reference("txn_id", Some(&txn_id))?;
        let mut props = props;
        if let Value::Object(map) = &mut props {
            map.retain(|_, v| !v.is_null());
        }
        let envelope = json!({
            "event_id": event_id(partner, kind, &txn_id).to_string(),
            "user_id": user_id, "type": event_type, "ts": ts, "props": props,
        });
        let event = Event::parse(&envelope, policy, now)?;
        Ok(Self { event, txn_id, site })
    }
}

/// Caps on the tokens a partner's rewards may credit, on the server's clock at arrival
/// (business days and months): a partner cannot dodge them by dating its rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardCaps {
    /// Tokens all of one partner's rewards may credit per business day.
    pub partner_daily: Option<i64>,
    /// ...and per business month.
    pub partner_monthly: Option<i64>,
    /// Tokens one user may have received from partners (all of them) in a business day for
    /// this partner's reward to be credited.
    pub user_daily: Option<i64>,
    /// ...and in a business month.
    pub user_monthly: Option<i64>,
}

/// The caps as an admission rule of a partner batch, with what the partner already rewarded
/// in the day and month of arrival (counted by the store inside the transaction). A user's
/// own counters travel in their state ([`crate::protection::Tally`]): they count what the
/// user received from partners, all of them, on the arrival clock.
pub struct RewardBook {
    pub caps: RewardCaps,
    pub partner_day: i64,
    pub partner_month: i64,
}

impl Admit for RewardBook {
    fn admit(&mut self, event: &Event, after: &UserState) -> Result<(), Rejection> {
        let Some(movement) = event.movement.filter(|m| m.reason == "earn:partner") else {
            return Ok(());
        };
        let amount = movement.delta.0;
        // The user's counters already hold this reward.
        let (user_day, user_month) =
            (after.tally.rewarded_today - amount, after.tally.rewarded_this_month - amount);
        let checks = [
            (
                self.caps.partner_daily,
                self.partner_day,
                RejectCode::PartnerDailyCapReached,
                "the partner's daily",
            ),
            (
                self.caps.partner_monthly,
                self.partner_month,
                RejectCode::PartnerMonthlyCapReached,
                "the partner's monthly",
            ),
            (self.caps.user_daily, user_day, RejectCode::UserDailyCapReached, "the user's daily"),
            (self.caps.user_monthly, user_month, RejectCode::UserMonthlyCapReached, "the user's monthly"),
        ];
        for (cap, so_far, code, name) in checks {
            if let Some(cap) = cap
                && so_far.saturating_add(amount) > cap
            {
                return Err(Rejection::new(
                    code,
                    format!("{amount} tokens would pass {name} reward cap of {cap} ({so_far} rewarded)"),
                ));
            }
        }
        self.partner_day += amount;
        self.partner_month += amount;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
