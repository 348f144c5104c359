//! The props each event type requires, read through typed getters that name the field at fault.

use serde_json::{Map, Value};

use super::{EventType, MAX_DWELL_S, MAX_PROP_STR_CHARS, Movement, RejectCode, Rejection};
use crate::tokens::{MAX_EVENT_AMOUNT, Tokens};

/// Typed reads of the props object, each failing with a rejection that names the field.
struct Props<'a>(&'a Map<String, Value>);

impl Props<'_> {
    fn missing(name: &str) -> Rejection {
        Rejection::new(RejectCode::MissingProp, format!("props.{name} is required"))
    }

    fn int(&self, name: &str, min: i64, max: i64) -> Result<i64, Rejection> {
        let value = self.0.get(name).ok_or_else(|| Self::missing(name))?;
        value.as_i64().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidProp,
                format!("props.{name} must be an integer from {min} to {max}"),
            )
        })
    }

    fn amount(&self, name: &str) -> Result<Tokens, Rejection> {
        let value = self.0.get(name).ok_or_else(|| Self::missing(name))?;
        value.as_i64().filter(|n| (1..=MAX_EVENT_AMOUNT).contains(n)).map(Tokens).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidAmount,
                format!("props.{name} must be a positive integer of at most {MAX_EVENT_AMOUNT}"),
            )
        })
    }

    fn text(&self, name: &str) -> Result<&str, Rejection> {
        let value = self.0.get(name).ok_or_else(|| Self::missing(name))?;
        value.as_str().filter(|s| !s.is_empty() && s.chars().count() <= MAX_PROP_STR_CHARS).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidProp,
                format!("props.{name} must be a non-empty string of at most {MAX_PROP_STR_CHARS} characters"),
            )
        })
    }

    fn one_of(&self, name: &str, allowed: &[&'static str]) -> Result<&'static str, Rejection> {
        let text = self.text(name)?;
        allowed.iter().copied().find(|a| *a == text).ok_or_else(|| {
            Rejection::new(
                RejectCode::InvalidProp,
                format!("props.{name} must be one of {}", allowed.join(", ")),
            )
        })
    }

    fn opt_bool(&self, name: &str) -> Result<bool, Rejection> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => {
                Err(Rejection::new(RejectCode::InvalidProp, format!("props.{name} must be true or false")))
            }
        }
    }
}

/// Checks the props a type requires and derives the ledger movement of ledger-moving types.
pub(super) fn check(
    event_type: &EventType,
    props: &Map<String, Value>,
) -> Result<Option<Movement>, Rejection> {
    let p = &Props(props);
    use EventType as T;
    let movement = match event_type {
        T::EarnCyberTokens => {
            let amount = p.amount("amount")?;
            let reason = match p.one_of("source", &["partner", "app", "reward", "purchase"])? {
                "partner" => "earn:partner",
                "app" => "earn:app",
                "reward" => "earn:reward",
                _ => "earn:purchase",
            };
            Some(Movement { delta: amount, reason })
        }
        T::SpendCyberTokens => {
            let amount = p.amount("amount")?;
            p.opt_bool("paid")?;
            let reason = match p.one_of("sink", &["game", "unlock", "item"])? {
                "game" => "spend:game",
                "unlock" => "spend:unlock",
                _ => "spend:item",
            };
            Some(Movement { delta: Tokens(-amount.0), reason })
        }
        T::PurchaseTokens => {
            let tokens = p.amount("tokens")?;
            p.int("cash_amount", 0, i64::MAX)?;
            let currency = p.text("currency")?;
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(Rejection::new(
                    RejectCode::InvalidProp,
                    "props.currency must be an ISO 4217 code such as KRW",
                ));
            }
            Some(Movement { delta: tokens, reason: "purchase" })
        }
        T::GamePlay => {
            p.text("game")?;
            p.int("bet", 0, MAX_EVENT_AMOUNT)?;
            p.int("payout", 0, MAX_EVENT_AMOUNT)?;
            p.one_of("result", &["win", "lose", "draw"])?;
            None
        }
        T::FailGame => {
            p.text("game")?;
            None
        }
        T::ContentUnlock => {
            p.text("content_id")?;
            p.int("stage", 0, 10_000)?;
            None
        }
        T::ViewContent => {
            p.text("content_id")?;
            None
        }
        T::ClaimReward => {
            p.text("reward_id")?;
            None
        }
        T::BuyItem => {
            p.text("item_id")?;
            None
        }
        T::PartnerVisit => {
            p.int("dwell_s", 0, MAX_DWELL_S)?;
            p.int("actions", 0, 100_000)?;
            None
        }
        T::ProposalImpression | T::ProposalClick | T::ProposalConversion => {
            p.text("proposal_id")?;
            None
        }
        T::SessionStart | T::Custom(_) => None,
    };
    Ok(movement)
}
