//! The checks a config passes before anything runs: each error names the key to fix.

use anyhow::Context;
use playpulse_policy::proposals::Kind;

use super::Config;

impl Config {
    /// Checks what serde's types cannot say: rules that hold together, names that exist.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        self.segments.rules().validate().map_err(|e| anyhow::anyhow!("segments.rules: {e}"))?;
        anyhow::ensure!(self.segments.window_days >= 1, "segments.window_days must be at least 1");
        // The roll-up's own check: a type the rollups do not count fails at load, not at night.
        self.rollup_settings().frequency().map_err(|e| anyhow::anyhow!("segments.frequency_types: {e}"))?;
        anyhow::ensure!(
            (0..=playpulse_core::tokens::MAX_EVENT_AMOUNT).contains(&self.segments.upgrade_reward_tokens),
            "segments.upgrade_reward_tokens must be from 0 to {}",
            playpulse_core::tokens::MAX_EVENT_AMOUNT
        );
        playpulse_core::time::BusinessZone::parse(&self.business.business_tz).with_context(|| {
            format!("business.business_tz: unknown time zone `{}`", self.business.business_tz)
        })?;
        self.quiz.validate().map_err(|e| anyhow::anyhow!("quiz: {e}"))?;
        self.proposals.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        self.proposals
            .check_game_for_everyone(&self.adult_ids().collect())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let most_variants = Kind::ALL.iter().map(|k| self.proposals.variants(*k).len()).max().unwrap_or(1);
        self.learning.validate(most_variants).map_err(|e| anyhow::anyhow!("learning: {e}"))?;
        let caps = self.partners.default_caps;
        let any_negative = [caps.partner_daily, caps.partner_monthly, caps.user_daily, caps.user_monthly]
            .into_iter()
            .flatten()
            .any(|cap| cap < 0);
        anyhow::ensure!(!any_negative, "partners.default_caps: a cap must not be negative");
        self.dashboard.settings()?;
        self.models.validate()?;
        self.notify.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let recommended = self.proposals.games.values().chain([&self.proposals.default_game]);
        playpulse_policy::games::check_catalogue(&self.games, recommended.map(String::as_str))
            .map_err(|e| anyhow::anyhow!("games: {e}"))?;
        self.check_segment_moves()
    }

    /// `notify.segment_moves` names segments the rules make.
    fn check_segment_moves(&self) -> anyhow::Result<()> {
        let known = self.segments.names();
        match self.notify.segment_moves.iter().find(|s| !known.contains(s)) {
            Some(unknown) => {
                anyhow::bail!(
                    "notify.segment_moves: no segment is named {unknown:?} (the segments are {known:?})"
                )
            }
            None => Ok(()),
        }
    }
}
