//! The game catalogue: every game's localized name and, for a game played for stakes, its
//! disclosed odds (each outcome's true probability and payout), as the operator configures
//! them and `GET /v1/games` lists them. The return to player follows from the table; nothing
//! else in the product may claim odds. Proposal texts name games by their names here.

use std::collections::BTreeSet;

use playpulse_core::quiz::{Lang, Localized};
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

/// A game: its names and, when it is played for stakes, its odds table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Game {
    pub id: String,
    /// What texts call it, in every language.
    pub name: Localized,
    /// Only for age-verified users.
    #[serde(default)]
    pub adult: bool,
    /// Empty for a game without stakes (the quiz): no stake is ever proposed on it.
    #[serde(default)]
    pub odds: Vec<Outcome>,
}

impl Game {
    /// Whether tokens are staked on it, i.e. it has an odds table.
    pub fn has_stakes(&self) -> bool {
        !self.odds.is_empty()
    }

    /// Expected tokens back per token staked; `None` for a game without stakes.
    pub fn return_to_player(&self) -> Option<f64> {
        self.has_stakes().then(|| self.odds.iter().map(|o| o.probability * o.payout).sum())
    }

    /// Names in both languages; an odds table, if any, whose probabilities in [0, 1] add up
    /// to 1 with payouts not negative.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(lang) = [Lang::Ko, Lang::En].into_iter().find(|l| self.name.get(*l).trim().is_empty()) {
            return Err(format!("game {}: the {lang:?} name is empty", self.id));
        }
        if !self.has_stakes() {
            return Ok(());
        }
        let total: f64 = self.odds.iter().map(|o| o.probability).sum();
        if (total - 1.0).abs() > 1e-9 {
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

/// Checks the catalogue at load: each game valid, ids unique, and every game the proposal
/// policy recommends (`games_named`) listed, so that every text can name it.
pub fn check_catalogue<'a>(
    games: &[Game],
    games_named: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for game in games {
        game.validate()?;
        if !ids.insert(game.id.as_str()) {
            return Err(format!("game {} is listed twice", game.id));
        }
    }
    match games_named.into_iter().find(|id| !ids.contains(id)) {
        Some(missing) => Err(format!("game {missing} is recommended by [proposals] but not in [[games]]")),
        None => Ok(()),
    }
}

fn outcome(name: &str, probability: f64, payout: f64) -> Outcome {
    Outcome { outcome: name.into(), probability, payout }
}

fn name(ko: &str, en: &str) -> Localized {
    Localized { ko: ko.into(), en: en.into() }
}

/// The default catalogue: the simulator's games with their true tables (slot paytable with a
/// 95% return, single-zero roulette, rock-paper-scissors at even odds), and the quiz, which
/// has no stakes.
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
        Game { id: "quiz".into(), name: name("퀴즈", "Quiz"), adult: false, odds: Vec::new() },
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
        assert!((rtp("slot").unwrap() - 0.95).abs() < 1e-9, "{:?}", rtp("slot"));
        assert!((rtp("roulette").unwrap() - 36.0 / 37.0).abs() < 1e-9);
        assert!((rtp("rps").unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(rtp("quiz"), None, "the quiz has no stakes");
    }

    #[test]
    fn the_catalogue_names_every_recommended_game() {
        let games = default_games();
        assert!(check_catalogue(&games, ["roulette", "quiz"]).is_ok());
        assert!(check_catalogue(&games, ["poker"]).unwrap_err().contains("poker"));
        let mut twice = games.clone();
        twice.push(games[0].clone());
        assert!(check_catalogue(&twice, []).unwrap_err().contains("twice"));
        let mut nameless = games;
        nameless[1].name.en = " ".into();
        assert!(check_catalogue(&nameless, []).unwrap_err().contains("En name"));
    }

    #[test]
    fn a_table_that_does_not_add_up_is_refused() {
        let mut game = default_games().remove(0);
        game.odds[0].probability = 0.5;
        assert!(game.validate().unwrap_err().contains("add up"));
    }
}
