//! The policy's settings, `[proposals]` in the config: thresholds, the games per segment,
//! the templates of every proposal type. The defaults reproduce the seed.

use std::collections::{BTreeMap, BTreeSet};

use playpulse_core::quiz::Localized;
use serde::{Deserialize, Serialize};

use super::{Kind, fallback_game};
use crate::arms::IdKey;
use crate::templates::{self, Template};

/// The shipped `proposals.id_key`. Public, so only good until an operator sets their own.
const DEFAULT_ID_KEY: &str = "playpulse-shipped-id-key-replace-me";

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
    /// Churn probability (the nightly model's) from which CORPORATE_MISSION is proposed
    /// whatever the user's partner record.
    pub churn_risk_at: f64,
    /// Recommended game per segment.
    pub games: BTreeMap<String, String>,
    /// Game of segments not listed, and of users under protection (no wagering).
    pub default_game: String,
    /// Content proposed as NEW_CONTENT, first allowed one wins (adult ids need age verification).
    pub featured_content: Vec<String>,
    /// Signs proposal ids, so that outcome events carrying forged ids are left out of what
    /// the loop learns. Set a secret of your own: anyone who knows this one can forge ids.
    pub id_key: IdKey,
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
            churn_risk_at: 0.8,
            games: games.into_iter().map(|(s, g)| (s.into(), g.into())).collect(),
            default_game: "quiz".into(),
            featured_content: Vec::new(),
            id_key: IdKey::new(DEFAULT_ID_KEY),
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
                    Kind::VipReward,
                    "a",
                    "VIP 초대: {game} VIP 테이블이 당신을 기다리고 있어요.",
                    "A VIP invitation: the {game} VIP table is waiting for you.",
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
        if !(self.churn_risk_at > 0.0 && self.churn_risk_at <= 1.0) {
            return Err("proposals: churn_risk_at must be in (0, 1]".into());
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

    /// Checks at load that a user who is not age-verified always has a game to be
    /// recommended: the default game, or else a per-segment game, not marked adult.
    pub fn check_game_for_everyone(&self, adult: &BTreeSet<String>) -> Result<(), String> {
        if fallback_game(self, |g| !adult.contains(g)).is_none() {
            return Err(format!(
                "proposals.default_game: `{}` is marked adult (19+), and so is every game in \
                 proposals.games; users who are not age-verified need a game for everyone",
                self.default_game
            ));
        }
        Ok(())
    }

    /// The variants of a type, in config order (the first is the static policy's).
    pub fn variants(&self, kind: Kind) -> Vec<&Template> {
        self.templates.iter().filter(|t| t.kind == kind.as_str()).collect()
    }
}
