//! The one typed config: defaults → `config/playpulse.toml` (or `--config`) → `PLAYPULSE_*`
//! environment → command-line flags. Every default is written in `config/playpulse.toml`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use playpulse_core::event::ValidationPolicy;
use playpulse_core::partner::RewardCaps;
use playpulse_core::protection::HarmThresholds;
use playpulse_core::quiz::Quiz;
use playpulse_core::segments::{Monetary, SegmentRule, SegmentRules};
use playpulse_core::settings::Settings;
use playpulse_notify::NotifyConfig;
use playpulse_policy::games::{Game, default_games};
use playpulse_policy::learn::LearnerConfig;
use playpulse_policy::proposals::PolicyConfig;
use serde::{Deserialize, Serialize};

mod checks;
mod dashboard;
mod models;
pub use dashboard::DashboardConfig;
pub use models::ModelsConfig;

/// The file read when `--config` is not given (if it exists).
pub const DEFAULT_CONFIG_PATH: &str = "config/playpulse.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub store: StoreConfig,
    pub server: ServerConfig,
    pub cache: CacheConfig,
    pub business: BusinessConfig,
    pub segments: SegmentsConfig,
    pub schedule: ScheduleConfig,
    pub analytics: AnalyticsConfig,
    pub models: ModelsConfig,
    pub quiz: Quiz,
    pub proposals: PolicyConfig,
    pub learning: LearnerConfig,
    pub protection: ProtectionConfig,
    pub partners: PartnersConfig,
    pub dashboard: DashboardConfig,
    pub notify: NotifyConfig,
    pub games: Vec<Game>,
}

/// Partners that call playpulse directly (`playpulse partners`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartnersConfig {
    /// The reward caps a partner is created with (`playpulse partners caps` sets one
    /// partner's): tokens per business day and month, for the partner as a whole, and for
    /// what a user received from all partners.
    pub default_caps: RewardCaps,
    /// How long the previous secret keeps signing after a rotation, in hours.
    pub rotation_overlap_h: u32,
    /// Sustained requests per second allowed per partner.
    pub rate_limit_per_s: u32,
    /// Requests one partner may send in a burst.
    pub rate_limit_burst: u32,
}

impl Default for PartnersConfig {
    fn default() -> Self {
        Self {
            default_caps: RewardCaps {
                partner_daily: None,
                partner_monthly: None,
                user_daily: Some(10_000),
                user_monthly: Some(100_000),
            },
            rotation_overlap_h: 24,
            rate_limit_per_s: 500,
            rate_limit_burst: 1_000,
        }
    }
}

/// Player protection: adult content and the harm markers' thresholds. Limits are per user
/// (`PUT /v1/users/{id}/limits`); the ledger enforces them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectionConfig {
    /// Content ids for adults (19+): never proposed to, nor unlockable by, users who are
    /// not age-verified.
    pub adult_content: Vec<String>,
    /// Tokens bought (PURCHASE_TOKENS, or EARN_CYBER_TOKENS from a purchase) count against a
    /// user's daily limit too: a day's purchases may not exceed it either.
    pub daily_limit_covers_purchases: bool,
    pub harm: HarmThresholds,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        Self {
            adult_content: Vec::new(),
            daily_limit_covers_purchases: true,
            harm: HarmThresholds::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            store: StoreConfig::default(),
            server: ServerConfig::default(),
            cache: CacheConfig::default(),
            business: BusinessConfig::default(),
            segments: SegmentsConfig::default(),
            schedule: ScheduleConfig::default(),
            analytics: AnalyticsConfig::default(),
            models: ModelsConfig::default(),
            quiz: Quiz::default(),
            proposals: PolicyConfig::default(),
            learning: LearnerConfig::default(),
            protection: ProtectionConfig::default(),
            partners: PartnersConfig::default(),
            dashboard: DashboardConfig::default(),
            notify: NotifyConfig::default(),
            games: default_games(),
        }
    }
}

/// The analytics layer over the lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// The churn window N in business days: the churn rate of day d is the share of the
    /// users active in (d − 2N, d − N] with no event in (d − N, d].
    pub churn_days: u32,
    /// Oldest lake the analytics API reads, in seconds (older: it exports and re-reads).
    pub refresh_s: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self { churn_days: 7, refresh_s: 60 }
    }
}

/// When `playpulse serve` runs the nightly batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Run the nightly batch inside `serve`.
    pub enabled: bool,
    /// Local time (business zone) of the nightly run, as of the day before.
    pub nightly_at: jiff::civil::Time,
    /// Nights back that a start catches up on when they were missed.
    pub catch_up_days: u32,
    /// A run still marked running after this long is taken to have died and is run again.
    pub stale_after_minutes: u32,
    /// Seconds between copies of newly committed events into the lake (0: none; the night
    /// and the analytics API then export on their own).
    pub export_every_s: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            nightly_at: jiff::civil::time(3, 0, 0, 0),
            catch_up_days: 3,
            stale_after_minutes: 120,
            export_every_s: 60,
        }
    }
}

/// The nightly segmentation: window and the ordered rule list (first match wins).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentsConfig {
    /// Business days in the RFM window, the as-of day included.
    pub window_days: u32,
    /// Event types F counts; empty counts every event (the seed's definition).
    pub frequency_types: Vec<String>,
    /// What M measures in the window.
    pub monetary: Monetary,
    /// Segment of users no rule matches.
    pub fallback: String,
    /// Tokens granted, once per user and batch, for moving up the ladder.
    pub upgrade_reward_tokens: i64,
    pub rules: Vec<SegmentRule>,
}

impl Default for SegmentsConfig {
    fn default() -> Self {
        let seed = SegmentRules::default();
        Self {
            window_days: 30,
            frequency_types: Vec::new(),
            monetary: Monetary::default(),
            fallback: seed.fallback,
            upgrade_reward_tokens: 100,
            rules: seed.rules,
        }
    }
}

impl SegmentsConfig {
    pub fn rules(&self) -> SegmentRules {
        SegmentRules { rules: self.rules.clone(), fallback: self.fallback.clone() }
    }

    /// The segments' names, top first, the fallback last.
    pub fn names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).chain([self.fallback.clone()]).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `postgres://…` or `sqlite://PATH`; empty means `playpulse.db` in `data_dir`.
    pub db: String,
    pub data_dir: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { db: String::new(), data_dir: PathBuf::from("./playpulse-data") }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Sustained requests per second allowed per API key.
    pub rate_limit_per_s: u32,
    /// Requests one API key may send in a burst.
    pub rate_limit_burst: u32,
    /// Failed authentications one client address may make per minute (429 beyond, without
    /// a key lookup, until the budget refills).
    pub auth_failures_per_minute: u32,
    /// The store's figures on `/metrics` (users, token supply, outbox, jobs) are read at most
    /// this often; scrapes in between get the last ones.
    pub metrics_refresh_s: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            rate_limit_per_s: 2_000,
            rate_limit_burst: 4_000,
            auth_failures_per_minute: 30,
            metrics_refresh_s: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://…`; empty means no hot cache (reads go to the store).
    pub redis: String,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub prefix: String,
    /// How often a degraded cache retries reconciliation, in seconds.
    pub recover_every_s: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { redis: String::new(), prefix: "playpulse".into(), recover_every_s: 10 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessConfig {
    /// IANA zone of business days and hours.
    pub business_tz: String,
    /// Accept event types outside the known list.
    pub allow_custom_events: bool,
}

impl Default for BusinessConfig {
    fn default() -> Self {
        let s = Settings::default();
        Self { business_tz: s.business_tz, allow_custom_events: s.allow_custom_events }
    }
}

impl BusinessConfig {
    pub fn settings(&self) -> Settings {
        Settings { business_tz: self.business_tz.clone(), allow_custom_events: self.allow_custom_events }
    }
}

impl Config {
    /// What the lake's rollups are computed with: the churn window, and the RFM window and
    /// what F counts, which `user_state` folds.
    pub fn rollup_settings(&self) -> playpulse_lake::rollups::Settings {
        playpulse_lake::rollups::Settings {
            churn_days: self.analytics.churn_days,
            window_days: self.segments.window_days,
            frequency_types: self.segments.frequency_types.clone(),
        }
    }

    /// Content and game ids marked adult (19+).
    pub fn adult_ids(&self) -> impl Iterator<Item = String> + '_ {
        let games = self.games.iter().filter(|g| g.adult).map(|g| g.id.clone());
        self.protection.adult_content.iter().cloned().chain(games)
    }

    /// How events are validated: the business settings and the adult content list.
    pub fn validation(&self) -> ValidationPolicy {
        ValidationPolicy {
            adult_content: std::sync::Arc::new(self.adult_ids().collect()),
            purchases_within_daily_limit: self.protection.daily_limit_covers_purchases,
            ..self.business.settings().validation()
        }
    }

    /// Loads defaults, then the file (required if named explicitly), then the environment
    /// (`PLAYPULSE_SERVER__LISTEN` sets `server.listen`). Errors name the offending key.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} does not exist", path.display());
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_PATH)),
        }
        figment =
            figment.merge(Env::prefixed("PLAYPULSE_").filter(|k| k.as_str().contains("__")).split("__"));
        let config: Config = figment.extract().context("invalid configuration")?;
        config.check()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_matches_the_defaults() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/playpulse.toml");
        let loaded = Config::load(Some(&shipped)).unwrap();
        assert_eq!(format!("{loaded:?}"), format!("{:?}", Config::default()));
    }

    /// The prose form kept commented out in the shipped file loads, in place of the default
    /// rules, as the seed's prose says.
    #[test]
    fn the_commented_prose_rules_load() {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/playpulse.toml"),
        )
        .unwrap();
        // The file up to the default rules, the commented rules uncommented, the rest.
        let (head, rest) = shipped.split_once("[[segments.rules]]").unwrap();
        let (_, rest) = rest.split_once("\n# [[segments.rules]]").unwrap();
        let (prose, tail) = rest.split_once("\n\n[schedule]").unwrap();
        let prose: Vec<String> = format!("# [[segments.rules]]{prose}")
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
            .map(str::to_owned)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prose.toml");
        std::fs::write(&path, format!("{head}{}\n\n[schedule]{tail}", prose.join("\n"))).unwrap();
        let rules = Config::load(Some(&path)).unwrap().segments.rules();

        let mut expected = SegmentRules::default();
        let band = |min, max| playpulse_core::segments::Band { min, max };
        expected.rules[0].balance = band(Some(1_000), None);
        expected.rules[1].partner_visits = band(Some(5), None);
        expected.rules[2].recency_days = band(Some(6), Some(15));
        expected.rules[2].partner_visits = band(Some(2), Some(4));
        assert_eq!(rules, expected);
    }

    #[test]
    fn a_bad_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[server]\nlisten_on = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("listen_on"), "{err}");
        std::fs::write(&path, "[business]\nbusiness_tz = \"Mars/Olympus\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("business_tz"), "{err}");
        // F counts the rollups' per-type columns: a custom type is refused at load.
        std::fs::write(&path, "[segments]\nfrequency_types = [\"LEVEL_UP\"]\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("frequency_types") && err.contains("LEVEL_UP"), "{err}");
        std::fs::write(&path, "[segments]\nfrequency_types = [\"GAME_PLAY\"]\n").unwrap();
        assert!(Config::load(Some(&path)).is_ok());
        std::fs::write(&path, "[notify]\nsegment_moves = [\"Whale\", \"Dolphin\"]\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("notify.segment_moves") && err.contains("Dolphin"), "{err}");
    }

    /// A default game for adults loads while another game is for everyone (users who are
    /// not age-verified get that one); with no game for everyone, the start is refused.
    #[test]
    fn users_who_are_not_age_verified_always_have_a_game() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adult.toml");
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/playpulse.toml"),
        )
        .unwrap();
        let adult_roulette = shipped
            .replace("default_game = \"quiz\"", "default_game = \"roulette\"")
            .replace("id = \"roulette\"\nname = { ko = \"룰렛 (싱글 제로)\", en = \"Roulette (single zero)\" }\nadult = false",
                     "id = \"roulette\"\nname = { ko = \"룰렛 (싱글 제로)\", en = \"Roulette (single zero)\" }\nadult = true");
        assert_ne!(adult_roulette, shipped);
        std::fs::write(&path, &adult_roulette).unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.proposals.default_game, "roulette");
        assert!(config.adult_ids().any(|id| id == "roulette"));

        let everything_adult =
            adult_roulette.replace("adult_content = []", "adult_content = [\"slot\", \"rps\", \"quiz\"]");
        std::fs::write(&path, everything_adult).unwrap();
        let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(err.contains("proposals.default_game") && err.contains("roulette"), "{err}");
    }
}
