//! The seed policy: from a user's facts to a recommended game and proposals, each with the
//! reason that triggered it. Player protection overrides it: a user with a harm marker gets
//! no stake escalation and no risky play, and a break or limit reminder instead; adult
//! content is proposed to age-verified users only.

use std::collections::BTreeSet;

use playpulse_core::protection::HarmMarkers;
use playpulse_core::quiz::{Lang, Localized, RiskProfile};

use crate::games::Game;
use crate::templates::{self, Template, Vars};

pub use self::config::PolicyConfig;
/// The proposal types (defined in `core`, where the store keys the learning loop's arms on them).
pub use playpulse_core::proposal::ProposalKind as Kind;

/// What the policy knows about a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts<'a> {
    /// The latest batch's segment (the fallback segment before any batch).
    pub segment: String,
    pub balance: i64,
    /// From the quiz; `None` until the user answered it.
    pub risk: Option<RiskProfile>,
    /// Whole days since the latest partner visit; `None` if there never was one.
    pub days_since_partner_visit: Option<i64>,
    pub partner_tokens_this_month: i64,
    /// The nightly churn model's probability that the user is gone in the coming week;
    /// `None` when no model scored them.
    pub churn_risk: Option<f64>,
    /// Among the top spenders the nightly value forecast expects (a whale candidate).
    pub whale_candidate: bool,
    pub markers: HarmMarkers,
    pub age_verified: bool,
    /// Content and game ids marked adult (19+).
    pub adult_content: &'a BTreeSet<String>,
    /// The game catalogue: the names texts use, and which games are played for stakes.
    pub games: &'a [Game],
}

/// One proposal before its variant is chosen and its text rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: Kind,
    pub game: Option<String>,
    pub action: Option<String>,
    /// The facts that triggered it, for people.
    pub reason: String,
    pub vars: Vars,
    /// The name of `game` in every language, from the catalogue.
    pub game_name: Option<Localized>,
}

impl Draft {
    /// The proposal's text in `lang`: `template` filled with the draft's facts and the
    /// game's name in that language.
    pub fn text(&self, template: &Template, lang: Lang) -> String {
        let mut vars = self.vars.clone();
        if let Some(name) = &self.game_name {
            vars.insert("game", name.get(lang).to_owned());
        }
        templates::render(template.text.get(lang), &vars)
    }
}

/// The policy's answer before variants and texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub recommended_game: String,
    pub game_reason: String,
    /// Under protection: harm markers switched the user to the protective policy.
    pub protective: bool,
    pub drafts: Vec<Draft>,
}

/// The game of users whose segment's game is not for them (or who are under protection):
/// the default game, or the first per-segment game `allowed`. `None` only when no configured
/// game is allowed, which [`PolicyConfig::check_game_for_everyone`] refuses at load.
pub(crate) fn fallback_game(config: &PolicyConfig, allowed: impl Fn(&str) -> bool) -> Option<&String> {
    std::iter::once(&config.default_game).chain(config.games.values()).find(|g| allowed(g))
}

/// Decides what to propose. Pure: the same facts give the same decision.
pub fn decide(config: &PolicyConfig, facts: &Facts<'_>) -> Decision {
    let protective = facts.markers.any();
    let adult_only = |id: &str| !facts.age_verified && facts.adult_content.contains(id);
    let segment_game = config.games.get(&facts.segment);
    let (wanted, mut game_reason) = match segment_game {
        _ if protective => (None, format!("protective policy ({})", facts.markers.names().join(", "))),
        Some(game) if adult_only(game) => (None, format!("{game} is for age-verified adults")),
        Some(game) => (Some(game), format!("segment {}", facts.segment)),
        None => (None, format!("segment {} has no game of its own", facts.segment)),
    };
    let game = match wanted {
        Some(game) => game.clone(),
        None => {
            if adult_only(&config.default_game) {
                game_reason.push_str(&format!("; {} is for age-verified adults", config.default_game));
            }
            // Checked at load: some game is for everyone. Were it not, the default is the
            // operator's explicit choice, and the ledger still refuses an adult game's play.
            fallback_game(config, |g| !adult_only(g)).unwrap_or(&config.default_game).clone()
        }
    };
    let mut vars = Vars::new();
    vars.insert("balance", facts.balance.to_string());
    let listed = |id: &str| facts.games.iter().find(|g| g.id == id);
    // Stakes are proposed on a game played for stakes only: the recommended one if it is,
    // otherwise the first such game of the catalogue the user may play.
    let stake_game = listed(&game)
        .filter(|g| g.has_stakes())
        .or_else(|| facts.games.iter().find(|g| g.has_stakes() && !adult_only(&g.id)))
        .map(|g| g.id.clone());
    let draft = |kind, game: Option<&str>, action: Option<&str>, reason: String, vars: &Vars| Draft {
        kind,
        game: game.map(str::to_owned),
        action: action.map(str::to_owned),
        reason,
        vars: vars.clone(),
        game_name: game.and_then(listed).map(|g| g.name.clone()),
    };
    let mut drafts = Vec::new();

    // Stakes by balance.
    if let Some(stake_game) = stake_game.as_deref().filter(|_| facts.balance >= config.high_stake_at) {
        let reason = format!("balance {} ≥ {}", facts.balance, config.high_stake_at);
        drafts.push(draft(Kind::HighStake, Some(stake_game), None, reason, &vars));
    } else if let Some(stake_game) = stake_game.as_deref().filter(|_| facts.balance >= config.mid_stake_at) {
        let reason = format!("balance {} ≥ {}", facts.balance, config.mid_stake_at);
        drafts.push(draft(Kind::MidStake, Some(stake_game), None, reason, &vars));
    } else if facts.balance < config.mid_stake_at {
        let needed = config.mid_stake_at - facts.balance;
        vars.insert("needed", needed.to_string());
        let reason = format!("balance {} < {}: {needed} tokens to go", facts.balance, config.mid_stake_at);
        drafts.push(draft(Kind::EarnMore, None, Some("earn"), reason, &vars));
    }

    // A VIP table for whale candidates: a stake offer, so never under protection.
    if let Some(stake_game) = stake_game.as_deref().filter(|_| facts.whale_candidate) {
        let reason = "whale candidate: among the top forecast spenders".to_owned();
        drafts.push(draft(Kind::VipReward, Some(stake_game), None, reason, &vars));
    }

    // Risk profile from the quiz.
    match facts.risk {
        Some(RiskProfile::High) => {
            if let Some(stake_game) = stake_game.as_deref() {
                let reason = "risk profile High-Risk".into();
                drafts.push(draft(Kind::RiskyPlay, Some(stake_game), None, reason, &vars));
            }
        }
        Some(RiskProfile::Low) => {
            drafts.push(draft(Kind::SafePlay, Some(&game), None, "risk profile Low-Risk".into(), &vars));
        }
        Some(RiskProfile::Moderate) | None => {}
    }

    // Partner missions. A user the churn model expects to lose gets one whatever their
    // partner record: the way back in, asking for no stake, so protection keeps it.
    let mut partner = match facts.days_since_partner_visit {
        Some(days) if days <= config.partner_idle_days => {
            (facts.partner_tokens_this_month < config.partner_month_goal).then(|| {
                vars.insert("partner_tokens", facts.partner_tokens_this_month.to_string());
                vars.insert("partner_goal", config.partner_month_goal.to_string());
                vars.insert(
                    "partner_remaining",
                    (config.partner_month_goal - facts.partner_tokens_this_month).to_string(),
                );
                let reason = format!(
                    "{} partner tokens this month < {}",
                    facts.partner_tokens_this_month, config.partner_month_goal
                );
                draft(Kind::CorporateMission, None, Some("visit_partner"), reason, &vars)
            })
        }
        idle => {
            let reason = match idle {
                Some(days) => format!("no partner visit for {days} days (> {})", config.partner_idle_days),
                None => "no partner visit yet".to_owned(),
            };
            Some(draft(Kind::CorporateEngage, None, Some("visit_partner"), reason, &vars))
        }
    };
    if let Some(risk) = facts.churn_risk.filter(|p| *p >= config.churn_risk_at) {
        let at_risk = format!("churn risk {risk:.2} ≥ {:.2}", config.churn_risk_at);
        match &mut partner {
            Some(mission) => mission.reason = format!("{at_risk}; {}", mission.reason),
            None => partner = Some(draft(Kind::CorporateEngage, None, Some("visit_partner"), at_risk, &vars)),
        }
    }
    drafts.extend(partner);

    // Featured content: adult content only for age-verified users.
    if let Some(content) = config.featured_content.iter().find(|id| !adult_only(id.as_str())) {
        vars.insert("content", content.clone());
        let action = format!("unlock:{content}");
        drafts.push(draft(
            Kind::NewContent,
            None,
            Some(&action),
            format!("featured content {content}"),
            &vars,
        ));
    }

    if protective {
        // Nothing that invites more play or spending for a user showing harm markers, and
        // during a break the user chose (cool-off, exclusion) nothing at all: a reminder
        // comes first instead, alone during a break.
        drafts.retain(|d| !d.kind.invites_play() && !facts.markers.paused());
        let names = facts.markers.names().join(", ");
        let (kind, action) = if facts.markers.limit_reached {
            (Kind::LimitReminder, "review_limits")
        } else {
            (Kind::BreakReminder, "take_break")
        };
        drafts.insert(0, draft(kind, None, Some(action), format!("harm markers: {names}"), &vars));
    }
    Decision { recommended_game: game, game_reason, protective, drafts }
}

mod config;
#[cfg(test)]
mod tests;
