//! Simulated events, written in the envelope of the ingest API.

use jiff::Timestamp;
use serde_json::{Value, json};
use uuid::Uuid;

/// One simulated event.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    pub id: Uuid,
    /// Index of the user (the id is [`user_id`] of it).
    pub user: u32,
    pub ts: Timestamp,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Earn { amount: i64, source: &'static str },
    Spend { amount: i64, sink: &'static str, paid: bool },
    Purchase { tokens: i64, cash_krw: i64 },
    SessionStart,
    GamePlay { game: &'static str, bet: i64, payout: i64, result: &'static str },
    ContentUnlock { content_id: String, stage: u32 },
    ViewContent { content_id: String },
    PartnerVisit { dwell_s: i64, actions: i64 },
}

/// The operator-side id of user `index`.
pub fn user_id(index: u32) -> String {
    format!("u{index:06}")
}

impl SimEvent {
    /// The token delta this event applies to the ledger.
    pub fn delta(&self) -> i64 {
        match self.kind {
            Kind::Earn { amount, .. } => amount,
            Kind::Spend { amount, .. } => -amount,
            Kind::Purchase { tokens, .. } => tokens,
            _ => 0,
        }
    }

    /// The event as partner A sends it itself (`POST /v1/partners/{id}/events`): visits and
    /// the tokens earned there; `None` for what the app's own server sends.
    pub fn partner_event(&self) -> Option<Value> {
        let (kind, details) = match self.kind {
            Kind::PartnerVisit { dwell_s, actions } => {
                ("visit", json!({"dwell_s": dwell_s, "actions": actions}))
            }
            Kind::Earn { amount, source: "partner" } => ("reward", json!({"amount": amount})),
            _ => return None,
        };
        let mut event = json!({
            "type": kind,
            "txn_id": format!("sim-{}", self.id),
            "user_id": user_id(self.user),
            "ts": self.ts.to_string(),
        });
        if let (Value::Object(event), Value::Object(details)) = (&mut event, details) {
            event.extend(details);
        }
        Some(event)
    }

    /// The event as the ingest API takes it.
    pub fn envelope(&self) -> Value {
        let (kind, props) = match &self.kind {
            Kind::Earn { amount, source } => {
                ("EARN_CYBER_TOKENS", json!({"amount": amount, "source": source}))
            }
            Kind::Spend { amount, sink, paid } => {
                ("SPEND_CYBER_TOKENS", json!({"amount": amount, "sink": sink, "paid": paid}))
            }
            Kind::Purchase { tokens, cash_krw } => {
                ("PURCHASE_TOKENS", json!({"tokens": tokens, "cash_amount": cash_krw, "currency": "KRW"}))
            }
            Kind::SessionStart => ("SESSION_START", json!({})),
            Kind::GamePlay { game, bet, payout, result } => {
                ("GAME_PLAY", json!({"game": game, "bet": bet, "payout": payout, "result": result}))
            }
            Kind::ContentUnlock { content_id, stage } => {
                ("CONTENT_UNLOCK", json!({"content_id": content_id, "stage": stage}))
            }
            Kind::ViewContent { content_id } => ("VIEW_CONTENT", json!({"content_id": content_id})),
            Kind::PartnerVisit { dwell_s, actions } => {
                ("PARTNER_VISIT", json!({"dwell_s": dwell_s, "actions": actions}))
            }
        };
        json!({
            "event_id": self.id.to_string(),
            "user_id": user_id(self.user),
            "type": kind,
            "ts": self.ts.to_string(),
            "props": props,
        })
    }
}
