//! Disclosed odds: each game's outcomes with their true probability and payout, as the
//! operator configures them and `GET /v1/games` lists them. The return to player follows
//! from the table; nothing else in the product may claim odds.

use playpulse_core::quiz::Localized;
use serde::{Deserialize, Serialize};

/// One outcome of one play.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub outcome: String,
    pub probability: f64,
    /// Tokens returned per token staked (0 for a loss; the stake included).
    pub payout: f64,
}

/// A game and its odds table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Game {
    pub id: String,
    pub name: Localized,
    /// Only for age-verified users.
    #[serde(default)]
    pub adult: bool,
    pub odds: Vec<Outcome>,
}

impl Game {
    /// Expected tokens back per token staked.
    pub fn return_to_player(&self) -> f64 {
        self.odds.iter().map(|o| o.probability * o.payout).sum()
    }

    /// Probabilities in [0, 1] that add up to 1, payouts not negative.
    pub fn validate(&self) -> Result<(), String> {
        let total: f64 = self.odds.iter().map(|o| o.probability).sum();
        if self.odds.is_empty() || (total - 1.0).abs() > 1e-9 {
            return Err(format!("game {}: outcome probabilities add up to {total}, not 1", self.id));
        }
        if let Some(bad) = self
            .odds
            .iter()
            .find(|o| !(0.0..=1.0).contains(&o.probability) || o.payout.is_nan() || o.payout < 0.0)
        {
            return Err(format!(
                "game {}: outcome {} has a probability outside [0, 1] or a negative payout",
                self.id, bad.outcome
            ));
        }
        Ok(())
    }
}

fn outcome(name: &str, probability: f64, payout: f64) -> Outcome {
    Outcome { outcome: name.into(), probability, payout }
}

fn name(ko: &str, en: &str) -> Localized {
    Localized { ko: ko.into(), en: en.into() }
}

/// The default catalogue: the simulator's games with their true tables (slot paytable with a
/// 95% return, single-zero roulette, rock-paper-scissors at even odds, the quiz).
pub fn default_games() -> Vec<Game> {
    vec![
        Game {
            id: "slot".into(),
            name: name("슬롯", "Slot"),
            adult: false,
            odds: vec![
                outcome("x100", 0.0011, 100.0),
                outcome("x20", 0.01, 20.0),
                outcome("x5", 0.05, 5.0),
                outcome("x2", 0.12, 2.0),
                outcome("x1", 0.15, 1.0),
                outcome("nothing", 0.6689, 0.0),
            ],
        },
        Game {
            id: "roulette".into(),
            name: name("룰렛 (싱글 제로)", "Roulette (single zero)"),
            adult: false,
            odds: vec![outcome("red", 18.0 / 37.0, 2.0), outcome("not red", 19.0 / 37.0, 0.0)],
        },
        Game {
            id: "rps".into(),
            name: name("가위바위보", "Rock paper scissors"),
            adult: false,
            odds: vec![
                outcome("win", 1.0 / 3.0, 2.0),
                outcome("draw", 1.0 / 3.0, 1.0),
                outcome("lose", 1.0 / 3.0, 0.0),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tables_are_valid_and_return_what_they_say() {
        let games = default_games();
        for game in &games {
            game.validate().unwrap();
        }
        let rtp = |id: &str| games.iter().find(|g| g.id == id).unwrap().return_to_player();
        assert!((rtp("slot") - 0.95).abs() < 1e-9, "{}", rtp("slot"));
        assert!((rtp("roulette") - 36.0 / 37.0).abs() < 1e-9);
        assert!((rtp("rps") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_table_that_does_not_add_up_is_refused() {
        let mut game = default_games().remove(0);
        game.odds[0].probability = 0.5;
        assert!(game.validate().unwrap_err().contains("add up"));
    }
}
