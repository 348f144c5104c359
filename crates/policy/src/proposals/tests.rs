//! The seed policy branch by branch, and the protections that override it.

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
        churn_risk: None,
        whale_candidate: false,
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
type Case = (&'static str, i64, Option<RiskProfile>, Option<i64>, i64, &'static str, &'static [&'static str]);

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
    for draft in
        low.drafts.iter().filter(|d| matches!(d.kind, Kind::HighStake | Kind::MidStake | Kind::RiskyPlay))
    {
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
    let unlock = |d: &Decision| d.drafts.iter().find(|d| d.kind == Kind::NewContent).unwrap().action.clone();
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

/// A protected user with a small balance, Low-Risk, with featured content: the seed would
/// invite them to collect tokens for stakes, to a relaxed game, and to new content.
#[test]
fn nothing_under_protection_invites_more_play_or_spending() {
    let config = PolicyConfig { featured_content: vec!["c-garden".into()], ..PolicyConfig::default() };
    let mut f = facts("Low", 50, Some(RiskProfile::Low), Some(1), 10);
    assert_eq!(kinds(&decide(&config, &f)), ["EARN_MORE", "SAFE_PLAY", "CORPORATE_MISSION", "NEW_CONTENT"]);
    f.markers.late_night = true;
    let decision = decide(&config, &f);
    assert_eq!(kinds(&decision), ["BREAK_REMINDER", "CORPORATE_MISSION"]);
    assert!(decision.drafts.iter().all(|d| !d.kind.invites_play()));

    // During a break the user chose, the reminder alone.
    for paused in [
        HarmMarkers { cooling_off: true, limit_reached: true, ..HarmMarkers::default() },
        HarmMarkers { self_excluded: true, limit_reached: true, ..HarmMarkers::default() },
    ] {
        f.markers = paused;
        let decision = decide(&config, &f);
        assert!(decision.protective);
        assert_eq!(kinds(&decision), ["LIMIT_REMINDER"], "{paused:?}");
        assert_eq!(decision.drafts[0].action.as_deref(), Some("review_limits"));
    }
}

/// A default game marked adult is never the recommendation of a user who is not age-verified,
/// protected or not: the first per-segment game for everyone is.
#[test]
fn an_adult_default_game_falls_back_to_one_for_everyone() {
    let config = PolicyConfig { default_game: "roulette".into(), ..PolicyConfig::default() };
    let adult = BTreeSet::from(["roulette".to_owned()]);
    let mut f = Facts { adult_content: &adult, ..facts("Unknown", 0, None, Some(0), 999) };
    let game = |f: &Facts<'_>| decide(&config, f).recommended_game;
    assert_eq!(game(&f), "slot", "the first game for everyone (segment High Engaged's)");
    f.markers.loss_chasing = true;
    assert_eq!(game(&f), "slot");
    assert!(decide(&config, &f).game_reason.contains("roulette is for age-verified adults"));
    f.segment = "Whale".into();
    assert_eq!(game(&f), "slot");
    f.age_verified = true;
    assert_eq!(game(&f), "roulette", "the operator's default, for an adult");

    assert_eq!(config.check_game_for_everyone(&adult), Ok(()));
    let all: BTreeSet<String> = ["roulette", "slot", "rps", "quiz"].map(str::to_owned).into();
    let err = config.check_game_for_everyone(&all).unwrap_err();
    assert!(err.contains("proposals.default_game"), "{err}");
}

/// The models' scores act through the same gate: a whale candidate is invited to a VIP
/// table unless a harm marker is on; a user at churn risk always gets a partner mission,
/// protected or not, with the risk as its reason.
#[test]
fn scores_act_through_the_protection_gate() {
    let config = PolicyConfig::default();
    let mut whale = facts("High Engaged", 300, None, Some(1), 999);
    assert_eq!(kinds(&decide(&config, &whale)), ["MID_STAKE"]);
    whale.whale_candidate = true;
    let decision = decide(&config, &whale);
    assert_eq!(kinds(&decision), ["MID_STAKE", "VIP_REWARD"]);
    let vip = &decision.drafts[1];
    assert_eq!(vip.game.as_deref(), Some("slot"));
    assert!(vip.text(config.variants(Kind::VipReward)[0], Lang::En).contains("Slot"));
    whale.markers.spend_velocity = true;
    assert_eq!(kinds(&decide(&config, &whale)), ["BREAK_REMINDER"], "no VIP stakes under protection");

    // Goal met, visited yesterday: no partner proposal, until the churn risk reaches the bar.
    let mut leaving = facts("Low", 100, None, Some(1), 999);
    let partner = |f: &Facts<'_>| {
        decide(&config, f).drafts.into_iter().find(|d| d.action.as_deref() == Some("visit_partner"))
    };
    assert_eq!(partner(&leaving), None);
    leaving.churn_risk = Some(config.churn_risk_at - 0.01);
    assert_eq!(partner(&leaving), None);
    leaving.churn_risk = Some(config.churn_risk_at);
    let engage = partner(&leaving).unwrap();
    assert_eq!((engage.kind, engage.reason.as_str()), (Kind::CorporateEngage, "churn risk 0.80 ≥ 0.80"));
    // Below the goal the mission stays, the risk named first; under protection it is kept.
    leaving.partner_tokens_this_month = 100;
    leaving.markers.late_night = true;
    let decision = decide(&config, &leaving);
    assert_eq!(kinds(&decision), ["BREAK_REMINDER", "CORPORATE_MISSION"]);
    assert_eq!(decision.drafts[1].reason, "churn risk 0.80 ≥ 0.80; 100 partner tokens this month < 500");
}
