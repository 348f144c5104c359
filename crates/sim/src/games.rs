//! The mini-games and their true odds. Every draw here is what a fair implementation of the
//! disclosed odds would produce; tests check the long-run figures against these constants.

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use rand::Rng;

use crate::sample::{chance, weighted};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Game {
    Slot,
    Roulette,
    Rps,
}

impl Game {
    pub const ALL: [Game; 3] = [Game::Slot, Game::Roulette, Game::Rps];

    /// The wire name used in `GAME_PLAY.props.game`.
    pub fn name(self) -> &'static str {
        match self {
            Game::Slot => "slot",
            Game::Roulette => "roulette",
            Game::Rps => "rps",
        }
    }
}

/// Slot paytable: (multiple of the bet paid back, probability). Return to player 95%.
pub const SLOT_PAYTABLE: [(i64, f64); 6] =
    [(0, 0.6689), (1, 0.15), (2, 0.12), (5, 0.05), (20, 0.01), (100, 0.0011)];
/// The slot's configured return to player.
pub const SLOT_RTP: f64 = 0.95;
/// Pockets of a European wheel (0 to 36).
pub const ROULETTE_POCKETS: u32 = 37;
/// European roulette pays 36× a straight bet (1 in 37) and 2× red or black (18 in 37):
/// either way the return to player is 36/37, a house edge of 1/37 ≈ 2.70%.
pub const ROULETTE_RTP: f64 = 36.0 / 37.0;

/// One play: the tokens paid back for `bet` (0 when lost; `bet` itself on a draw).
/// `risk` (0–1) only chooses between roulette's straight and colour bets.
pub fn play(game: Game, bet: i64, risk: f64, rng: &mut ChaCha8Rng) -> i64 {
    match game {
        Game::Slot => {
            let weights = SLOT_PAYTABLE.map(|(_, p)| p);
            bet * SLOT_PAYTABLE[weighted(rng, &weights)].0
        }
        Game::Roulette => {
            let pocket = rng.random_range(0..ROULETTE_POCKETS);
            if chance(rng, risk * 0.5) {
                // Straight up on 17.
                if pocket == 17 { bet * 36 } else { 0 }
            } else {
                // Red: 18 of the 36 numbered pockets; 0 is green.
                if pocket != 0 && pocket % 2 == 1 { bet * 2 } else { 0 }
            }
        }
        Game::Rps => match rng.random_range(0..3u8) {
            0 => bet * 2,
            1 => bet,
            _ => 0,
        },
    }
}

/// `win`, `draw` or `lose`, as `GAME_PLAY.props.result` says.
pub fn result(bet: i64, payout: i64) -> &'static str {
    match payout.cmp(&bet) {
        std::cmp::Ordering::Greater => "win",
        std::cmp::Ordering::Equal => "draw",
        std::cmp::Ordering::Less => "lose",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_paytable_returns_what_it_claims() {
        let total: f64 = SLOT_PAYTABLE.iter().map(|(_, p)| p).sum();
        let rtp: f64 = SLOT_PAYTABLE.iter().map(|(m, p)| *m as f64 * p).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!((rtp - SLOT_RTP).abs() < 1e-12);
    }
}
