//! The seed policy: from a user's facts to a recommended game and proposals, each with the
//! reason that triggered it. Player protection overrides it: a user with a harm marker gets
//! no stake escalation and no risky play, and a break or limit reminder instead; adult
//! content is proposed to age-verified users only.

use std::collections::{BTreeMap, BTreeSet};

use playpulse_core::protection::HarmMarkers;
use playpulse_core::quiz::{Lang, Localized, RiskProfile};
use serde::{Deserialize, Serialize};

use crate::games::Game;
use crate::templates::{self, Template, Vars};

/// The proposal types. Their wire names are stable: clients and the learning loop key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    HighStake,
    MidStake,
    EarnMore,
    RiskyPlay,
    SafePlay,
    CorporateEngage,
    CorporateMission,
    NewContent,
    BreakReminder,
    LimitReminder,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::HighStake,
        Kind::MidStake,
        Kind::EarnMore,
        Kind::RiskyPlay,
        Kind::SafePlay,
        Kind::CorporateEngage,
        Kind::CorporateMission,
        Kind::NewContent,
        Kind::BreakReminder,
        Kind::LimitReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HighStake => "HIGH_STAKE",
            Kind::MidStake => "MID_STAKE",
            Kind::EarnMore => "EARN_MORE",
            Kind::RiskyPlay => "RISKY_PLAY",
            Kind::SafePlay => "SAFE_PLAY",
            Kind::CorporateEngage => "CORPORATE_ENGAGE",
            Kind::CorporateMission => "CORPORATE_MISSION",
            Kind::NewContent => "NEW_CONTENT",
            Kind::BreakReminder => "BREAK_REMINDER",
            Kind::LimitReminder => "LIMIT_REMINDER",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Kinds that push a user to stake more or take more risk: never under protection.
    pub fn escalates(self) -> bool {
        matches!(self, Kind::HighStake | Kind::MidStake | Kind::RiskyPlay)
    }
}

/// The policy's settings, from `[proposals]` in the config. Defaults reproduce the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Reported with every answer, so logged choices say which policy made them.
    pub version: String,
    /// Balance from which HIGH_STAKE is proposed.
    pub high_stake_at: i64,
    /// Balance from which MID_STAKE is proposed; below it, EARN_MORE with the tokens missing.
    pub mid_stake_at: i64,
    /// Days without a partner visit after which CORPORATE_ENGAGE is proposed.
    pub partner_idle_days: i64,
    /// Partner tokens per business month below which CORPORATE_MISSION is proposed.
    pub partner_month_goal: i64,
    /// Recommended game per segment.
    pub games: BTreeMap<String, String>,
    /// Game of segments not listed, and of users under protection (no wagering).
    pub default_game: String,
    /// Content proposed as NEW_CONTENT, first allowed one wins (adult ids need age verification).
    pub featured_content: Vec<String>,
    pub templates: Vec<Template>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let games = [("Whale", "roulette"), ("High Engaged", "slot"), ("Medium", "rps"), ("Low", "quiz")];
        let t = |kind: Kind, variant: &str, ko: &str, en: &str| Template {
            kind: kind.as_str().into(),
            variant: variant.into(),
            text: Localized { ko: ko.into(), en: en.into() },
        };
        PolicyConfig {
            version: "seed-1".into(),
            high_stake_at: 500,
            mid_stake_at: 200,
            partner_idle_days: 7,
            partner_month_goal: 500,
            games: games.into_iter().map(|(s, g)| (s.into(), g.into())).collect(),
            default_game: "quiz".into(),
            featured_content: Vec::new(),
            templates: vec![
                t(
                    Kind::HighStake,
                    "a",
                    "토큰 {balance}개로 {game} 하이 스테이크 테이블에 도전해 보세요.",
                    "Take {balance} tokens to the {game} high-stakes table.",
                ),
                t(
                    Kind::HighStake,
                    "b",
                    "{balance}개의 토큰이 있어요. {game} 상위 테이블이 열려 있어요.",
                    "You hold {balance} tokens: the upper {game} table is open to you.",
                ),
                t(
                    Kind::MidStake,
                    "a",
                    "토큰 {balance}개면 {game} 미드 스테이크 게임을 즐길 수 있어요.",
                    "With {balance} tokens you can enjoy a mid-stakes {game} game.",
                ),
                t(
                    Kind::MidStake,
                    "b",
                    "{game} 미드 스테이크 한 판 어떠세요? 보유 토큰 {balance}개.",
                    "How about a mid-stakes round of {game}? You hold {balance} tokens.",
                ),
                t(
                    Kind::EarnMore,
                    "a",
                    "토큰 {needed}개만 더 모으면 미드 스테이크 게임에 참여할 수 있어요.",
                    "Collect {needed} more tokens to join mid-stakes games.",
                ),
                t(
                    Kind::EarnMore,
                    "b",
                    "{needed}개의 토큰이 더 필요해요. 미션으로 모아 보세요.",
                    "You need {needed} more tokens: missions can get you there.",
                ),
                t(
                    Kind::RiskyPlay,
                    "a",
                    "과감한 플레이를 좋아하신다면 {game}의 새 테이블을 확인해 보세요.",
                    "If you like bold play, look at the new {game} table.",
                ),
                t(
                    Kind::SafePlay,
                    "a",
                    "부담 없이 즐길 수 있는 {game} 게임을 추천해요.",
                    "We suggest a relaxed game of {game}.",
                ),
                t(
                    Kind::SafePlay,
                    "b",
                    "오늘은 가볍게 {game} 한 판 어떠세요?",
                    "How about a light round of {game} today?",
                ),
                t(
                    Kind::CorporateEngage,
                    "a",
                    "파트너 A를 방문하고 토큰을 받아 보세요.",
                    "Visit partner A and collect tokens.",
                ),
                t(
                    Kind::CorporateEngage,
                    "b",
                    "파트너 A에서 새로운 미션이 기다리고 있어요.",
                    "New missions are waiting for you at partner A.",
                ),
                t(
                    Kind::CorporateMission,
                    "a",
                    "이번 달 파트너 토큰 {partner_tokens}개를 모았어요. {partner_remaining}개 더 모아 {partner_goal}개를 채워 보세요.",
                    "You earned {partner_tokens} partner tokens this month. {partner_remaining} more make {partner_goal}.",
                ),
                t(
                    Kind::CorporateMission,
                    "b",
                    "파트너 미션 진행 중: {partner_tokens}/{partner_goal} 토큰.",
                    "Partner mission in progress: {partner_tokens}/{partner_goal} tokens.",
                ),
                t(
                    Kind::NewContent,
                    "a",
                    "새 콘텐츠 {content}이(가) 열렸어요.",
                    "New content is out: {content}.",
                ),
                t(
                    Kind::BreakReminder,
                    "a",
                    "잠시 쉬어 가는 건 어떨까요? 플레이 시간을 확인해 보세요.",
                    "How about a short break? Have a look at your play time.",
                ),
                t(
                    Kind::LimitReminder,
                    "a",
                    "설정하신 한도에 도달했어요. 한도는 언제든 확인할 수 있어요.",
                    "You have reached a limit you set. You can review your limits any time.",
                ),
            ],
        }
    }
}

impl PolicyConfig {
    /// Checks the policy at load: thresholds in order, a template for every type, each
    /// template well formed (see [`templates::check`]).
    pub fn validate(&self) -> Result<(), String> {
        if !(0 < self.mid_stake_at && self.mid_stake_at <= self.high_stake_at) {
            return Err("proposals: 0 < mid_stake_at ≤ high_stake_at".into());
        }
        let mut seen = BTreeSet::new();
        for template in &self.templates {
            if Kind::parse(&template.kind).is_none() {
                return Err(format!("proposals: template type {:?} is not a proposal type", template.kind));
            }
            if !seen.insert((template.kind.as_str(), template.variant.as_str())) {
                return Err(format!(
                    "proposals: template {}/{} is repeated",
                    template.kind, template.variant
                ));
            }
            templates::check(template).map_err(|e| format!("proposals: {e}"))?;
        }
        if let Some(missing) = Kind::ALL.iter().find(|k| !self.templates.iter().any(|t| t.kind == k.as_str()))
        {
            return Err(format!("proposals: no template for {}", missing.as_str()));
        }
        Ok(())
    }

    /// The variants of a type, in config order (the first is the static policy's).
    pub fn variants(&self, kind: Kind) -> Vec<&Template> {
        self.templates.iter().filter(|t| t.kind == kind.as_str()).collect()
    }
}

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

/// Decides what to propose. Pure: the same facts give the same decision.
pub fn decide(config: &PolicyConfig, facts: &Facts<'_>) -> Decision {
    let protective = facts.markers.any();
    let adult_only = |id: &String| !facts.age_verified && facts.adult_content.contains(id);
    let (game, game_reason) = if protective {
        (config.default_game.clone(), format!("protective policy ({})", facts.markers.names().join(", ")))
    } else {
        match config.games.get(&facts.segment) {
            Some(game) if adult_only(game) => {
                (config.default_game.clone(), format!("{game} is for age-verified adults"))
            }
            Some(game) => (game.clone(), format!("segment {}", facts.segment)),
            None => {
                (config.default_game.clone(), format!("segment {} has no game of its own", facts.segment))
            }
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

    // Partner missions.
    match facts.days_since_partner_visit {
        Some(days) if days <= config.partner_idle_days => {
            if facts.partner_tokens_this_month < config.partner_month_goal {
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
                drafts.push(draft(Kind::CorporateMission, None, Some("visit_partner"), reason, &vars));
            }
        }
        idle => {
            let reason = match idle {
                Some(days) => format!("no partner visit for {days} days (> {})", config.partner_idle_days),
                None => "no partner visit yet".to_owned(),
            };
            drafts.push(draft(Kind::CorporateEngage, None, Some("visit_partner"), reason, &vars));
        }
    }

    // Featured content: adult content only for age-verified users.
    if let Some(content) = config.featured_content.iter().find(|id| !adult_only(id)) {
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
        // No escalation for a user showing harm markers; a reminder comes first instead.
        drafts.retain(|d| !d.kind.escalates());
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

#[cfg(test)]
mod tests {
    use playpulse_core::quiz::Lang;

    use super::*;
    use crate::templates::render;

    static NO_ADULT_CONTENT: BTreeSet<String> = BTreeSet::new();
    static GAMES: std::sync::LazyLock<Vec<Game>> = std::sync::LazyLock::new(crate::games::default_games);

    fn facts(
        segment: &str,
        balance: i64,
        risk: Option<RiskProfile>,
        visit: Option<i64>,
        partner: i64,
    ) -> Facts<'static> {
        Facts {
            segment: segment.into(),
            balance,
            risk,
            days_since_partner_visit: visit,
            partner_tokens_this_month: partner,
            markers: HarmMarkers::default(),
            age_verified: false,
            adult_content: &NO_ADULT_CONTENT,
            games: &GAMES,
        }
    }

    fn kinds(decision: &Decision) -> Vec<&'static str> {
        decision.drafts.iter().map(|d| d.kind.as_str()).collect()
    }

    #[test]
    fn the_seeds_own_example() {
        let config = PolicyConfig::default();
        let decision = decide(&config, &facts("Low", 250, Some(RiskProfile::Low), Some(2), 150));
        assert_eq!(kinds(&decision), ["MID_STAKE", "SAFE_PLAY", "CORPORATE_MISSION"]);
        let mission = &decision.drafts[2];
        for template in config.variants(Kind::CorporateMission) {
            for lang in [Lang::Ko, Lang::En] {
                let text = render(template.text.get(lang), &mission.vars);
                assert!(text.contains("150"), "{text}");
            }
        }
    }

    /// (segment, balance, risk, days since visit, partner tokens) → game and proposal types.
    type Case =
        (&'static str, i64, Option<RiskProfile>, Option<i64>, i64, &'static str, &'static [&'static str]);

    /// Every branch of the seed algorithm, at and just past each threshold.
    #[test]
    fn every_branch_of_the_seed() {
        use RiskProfile::{High, Low, Moderate};
        #[rustfmt::skip]
        let cases: [Case; 12] = [
            ("Whale", 500, Some(High), Some(0), 0, "roulette", &["HIGH_STAKE", "RISKY_PLAY", "CORPORATE_MISSION"]),
            ("Whale", 499, Some(High), Some(7), 499, "roulette", &["MID_STAKE", "RISKY_PLAY", "CORPORATE_MISSION"]),
            ("High Engaged", 200, Some(Moderate), Some(7), 500, "slot", &["MID_STAKE"]),
            ("High Engaged", 199, None, Some(8), 0, "slot", &["EARN_MORE", "CORPORATE_ENGAGE"]),
            ("Medium", 0, Some(Low), None, 0, "rps", &["EARN_MORE", "SAFE_PLAY", "CORPORATE_ENGAGE"]),
            ("Medium", 10_000, Some(Low), Some(1), 10_000, "rps", &["HIGH_STAKE", "SAFE_PLAY"]),
            ("Low", 250, Some(Low), Some(2), 150, "quiz", &["MID_STAKE", "SAFE_PLAY", "CORPORATE_MISSION"]),
            ("Low", 250, Some(High), Some(30), 150, "quiz", &["MID_STAKE", "RISKY_PLAY", "CORPORATE_ENGAGE"]),
            ("Low", 501, None, Some(0), 499, "quiz", &["HIGH_STAKE", "CORPORATE_MISSION"]),
            ("Low", 150, Some(Moderate), Some(0), 500, "quiz", &["EARN_MORE"]),
            ("Unknown", 300, None, Some(0), 600, "quiz", &["MID_STAKE"]),
            ("Whale", 0, None, None, 0, "roulette", &["EARN_MORE", "CORPORATE_ENGAGE"]),
        ];
        let config = PolicyConfig::default();
        for (segment, balance, risk, visit, partner, game, expected) in cases {
            let decision = decide(&config, &facts(segment, balance, risk, visit, partner));
            let case = format!("{segment} {balance} {risk:?} {visit:?} {partner}");
            assert_eq!(decision.recommended_game, game, "{case}");
            assert_eq!(kinds(&decision), expected, "{case}");
            assert!(!decision.protective);
            assert!(decision.drafts.iter().all(|d| !d.reason.is_empty()));
        }
        let earn = decide(&config, &facts("Low", 150, None, Some(0), 999));
        assert_eq!(earn.drafts[0].vars["needed"], "50", "tokens still needed for MID_STAKE");
    }

    #[test]
    fn every_template_renders_without_leftover_braces_in_both_languages() {
        let config = PolicyConfig::default();
        config.validate().unwrap();
        let all_vars: Vars = crate::templates::PLACEHOLDERS.iter().map(|p| (*p, "7".to_owned())).collect();
        for template in &config.templates {
            for lang in [Lang::Ko, Lang::En] {
                let text = render(template.text.get(lang), &all_vars);
                assert!(
                    !text.contains('{') && !text.contains('}'),
                    "{}/{}: {text}",
                    template.kind,
                    template.variant
                );
            }
        }
        // And with the vars a real decision sets, for every type the seed can produce.
        let mut protective = facts("Whale", 900, Some(RiskProfile::High), Some(1), 10);
        protective.markers.loss_chasing = true;
        for f in [
            facts("Whale", 900, Some(RiskProfile::High), Some(1), 10),
            facts("Low", 10, Some(RiskProfile::Low), None, 0),
            protective,
        ] {
            for draft in decide(&config, &f).drafts {
                for template in config.variants(draft.kind) {
                    let text = draft.text(template, Lang::Ko);
                    assert!(!text.contains('{'), "{}: {text}", draft.kind.as_str());
                }
            }
        }
    }

    /// Texts name games by their localized names, and stakes only on games played for stakes:
    /// a Low user, whose game is the quiz, is offered stakes on the first such game.
    #[test]
    fn stakes_name_a_game_with_stakes_by_its_name() {
        let config = PolicyConfig::default();
        let low = decide(&config, &facts("Low", 600, Some(RiskProfile::High), Some(1), 0));
        assert_eq!(low.recommended_game, "quiz");
        for draft in low.drafts.iter().filter(|d| d.kind.escalates()) {
            assert_eq!(draft.game.as_deref(), Some("slot"), "{draft:?}");
            let ko = draft.text(config.variants(draft.kind)[0], Lang::Ko);
            let en = draft.text(config.variants(draft.kind)[0], Lang::En);
            assert!(ko.contains("슬롯") && en.contains("Slot"), "{ko} / {en}");
            assert!(!ko.contains("slot") && !en.contains("quiz"), "{ko} / {en}");
        }
        assert_eq!(kinds(&low), ["HIGH_STAKE", "RISKY_PLAY", "CORPORATE_MISSION"]);
        let whale = decide(&config, &facts("Whale", 600, Some(RiskProfile::Low), Some(1), 0));
        let safe = whale.drafts.iter().find(|d| d.kind == Kind::SafePlay).unwrap();
        let en = safe.text(config.variants(Kind::SafePlay)[0], Lang::En);
        assert!(en.contains("Roulette (single zero)"), "{en}");
        // No game with stakes the user may play: no stake proposal at all.
        let adult = BTreeSet::from(["slot".to_owned(), "roulette".to_owned(), "rps".to_owned()]);
        let f = Facts { adult_content: &adult, ..facts("Low", 600, None, Some(1), 999) };
        assert!(decide(&config, &f).drafts.iter().all(|d| d.game.is_none()), "{:?}", decide(&config, &f));
    }

    #[test]
    fn harm_markers_switch_to_the_protective_policy() {
        let config = PolicyConfig::default();
        let mut f = facts("Whale", 5_000, Some(RiskProfile::High), Some(1), 10);
        f.markers.loss_chasing = true;
        let decision = decide(&config, &f);
        assert!(decision.protective);
        assert_eq!(decision.recommended_game, "quiz");
        assert_eq!(kinds(&decision), ["BREAK_REMINDER", "CORPORATE_MISSION"]);
        assert!(decision.drafts[0].reason.contains("loss_chasing"));
        f.markers.limit_reached = true;
        assert_eq!(kinds(&decide(&config, &f))[0], "LIMIT_REMINDER");
    }

    #[test]
    fn adult_content_is_proposed_to_age_verified_users_only() {
        let config = PolicyConfig {
            featured_content: vec!["c19-night".into(), "c-garden".into()],
            ..PolicyConfig::default()
        };
        let adult = BTreeSet::from(["c19-night".to_owned()]);
        let mut f = Facts { adult_content: &adult, ..facts("Low", 0, None, Some(0), 999) };
        let unlock =
            |d: &Decision| d.drafts.iter().find(|d| d.kind == Kind::NewContent).unwrap().action.clone();
        assert_eq!(unlock(&decide(&config, &f)).as_deref(), Some("unlock:c-garden"));
        f.age_verified = true;
        assert_eq!(unlock(&decide(&config, &f)).as_deref(), Some("unlock:c19-night"));

        // An adult game is not recommended either.
        let adult = BTreeSet::from(["roulette".to_owned()]);
        let mut whale = Facts { adult_content: &adult, ..facts("Whale", 0, None, Some(0), 999) };
        assert_eq!(decide(&config, &whale).recommended_game, "quiz");
        whale.age_verified = true;
        assert_eq!(decide(&config, &whale).recommended_game, "roulette");
    }
}
