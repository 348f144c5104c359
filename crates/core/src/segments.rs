//! RFM and segments: the per-user figures of a batch, and the ordered rule list that turns
//! them into a segment (first match wins; no match means the fallback segment).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One user's figures as of a batch's business day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Rfm {
    /// Business days from the user's last event (at or before the as-of day) to the as-of day.
    pub recency_days: i64,
    /// The user's events inside the window.
    pub frequency: i64,
    /// The configured monetary measure inside the window (tokens spent by default).
    pub monetary: i64,
    pub partner_visits: i64,
    /// Tokens earned at partner A inside the window.
    pub partner_tokens: i64,
}

/// What M measures, inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monetary {
    /// Tokens spent (SPEND_CYBER_TOKENS amounts), the seed's measure.
    #[default]
    TokensSpent,
    /// Tokens spent that came from cash (spends marked `paid`).
    PaidSpend,
    /// Tokens earned at partner A.
    PartnerEarnings,
}

/// An inclusive range; a missing end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl Band {
    pub fn contains(&self, value: i64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }
}

/// A segment and the bands a user must fall in, all of them, to get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    pub name: String,
    #[serde(default)]
    pub recency_days: Band,
    #[serde(default)]
    pub frequency: Band,
    #[serde(default)]
    pub monetary: Band,
    #[serde(default)]
    pub balance: Band,
    #[serde(default)]
    pub partner_visits: Band,
}

/// The metrics a rule looks at, by name, for reports.
const METRICS: [&str; 5] = ["recency_days", "frequency", "monetary", "balance", "partner_visits"];

impl SegmentRule {
    fn bands(&self) -> [Band; 5] {
        [self.recency_days, self.frequency, self.monetary, self.balance, self.partner_visits]
    }

    fn values(rfm: &Rfm, balance: i64) -> [i64; 5] {
        [rfm.recency_days, rfm.frequency, rfm.monetary, balance, rfm.partner_visits]
    }

    pub fn matches(&self, rfm: &Rfm, balance: i64) -> bool {
        self.bands().iter().zip(Self::values(rfm, balance)).all(|(band, v)| band.contains(v))
    }
}

/// The ordered rules and the segment of users no rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRules {
    pub rules: Vec<SegmentRule>,
    pub fallback: String,
}

/// Where a user landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub segment: String,
    /// Index of the matching rule; `None` for the fallback.
    pub rule: Option<usize>,
    /// Fell to the fallback although no metric is below the ladder: on every metric the
    /// bottom rule looks at, the value lies within the span of all rules' bands for it. The
    /// user sits in a gap between bands (say recent like a High Engaged user, but as frequent
    /// as a Medium one), not below them.
    pub between_bands: bool,
}

fn band(min: Option<i64>, max: Option<i64>) -> Band {
    Band { min, max }
}

impl Default for SegmentRules {
    /// The seed's nightly SQL: Whale, High Engaged, Medium, otherwise Low. The seed's prose
    /// adds balance and partner-visit criteria that leave about a quarter of active users
    /// between bands; `config/playpulse.toml` keeps that form as a commented alternative.
    fn default() -> Self {
        let any = Band::default();
        SegmentRules {
            rules: vec![
                SegmentRule {
                    name: "Whale".into(),
                    recency_days: band(None, Some(2)),
                    frequency: band(Some(30), None),
                    monetary: band(Some(10_000), None),
                    balance: any,
                    partner_visits: any,
                },
                SegmentRule {
                    name: "High Engaged".into(),
                    recency_days: band(None, Some(5)),
                    frequency: band(Some(15), None),
                    monetary: band(Some(2_000), None),
                    balance: any,
                    partner_visits: any,
                },
                SegmentRule {
                    name: "Medium".into(),
                    recency_days: band(None, Some(15)),
                    frequency: band(Some(5), Some(14)),
                    monetary: band(Some(100), Some(1_999)),
                    balance: any,
                    partner_visits: any,
                },
            ],
            fallback: "Low".into(),
        }
    }
}

impl SegmentRules {
    /// The segment of a user with these figures and balance.
    pub fn assign(&self, rfm: &Rfm, balance: i64) -> Assignment {
        if let Some((i, rule)) = self.rules.iter().enumerate().find(|(_, r)| r.matches(rfm, balance)) {
            return Assignment { segment: rule.name.clone(), rule: Some(i), between_bands: false };
        }
        let values = SegmentRule::values(rfm, balance);
        let between_bands = self.rules.last().is_some_and(|bottom| {
            (0..METRICS.len()).filter(|&m| bottom.bands()[m] != Band::default()).all(|m| {
                let bands: Vec<Band> =
                    self.rules.iter().map(|r| r.bands()[m]).filter(|b| *b != Band::default()).collect();
                let span = Band {
                    min: bands.iter().map(|b| b.min).min().flatten(),
                    max: bands.iter().map(|b| b.max).try_fold(i64::MIN, |hi, max| max.map(|m| hi.max(m))),
                };
                span.contains(values[m])
            })
        });
        Assignment { segment: self.fallback.clone(), rule: None, between_bands }
    }

    /// Position on the ladder: the first rule is the top; the fallback is the bottom.
    pub fn rank(&self, segment: &str) -> usize {
        self.rules.iter().position(|r| r.name == segment).unwrap_or(self.rules.len())
    }

    /// Checks names are unique and bands are not inverted; errors name the rule.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for rule in &self.rules {
            if !seen.insert(rule.name.as_str()) || rule.name == self.fallback {
                return Err(format!("segment `{}` is named twice", rule.name));
            }
            for (metric, b) in METRICS.iter().zip(rule.bands()) {
                if let (Some(min), Some(max)) = (b.min, b.max)
                    && min > max
                {
                    return Err(format!("segment `{}`: {metric} min {min} is above max {max}", rule.name));
                }
            }
        }
        Ok(())
    }
}

/// Users per segment and moves between segments, for a batch report.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentReport {
    pub users: BTreeMap<String, u64>,
    /// (from, to) → users; `from` is `"(new)"` for users without a previous segment.
    pub transitions: BTreeMap<(String, String), u64>,
    pub between_bands: u64,
    /// Users who moved up the ladder since the previous batch.
    pub upgrades: u64,
    /// Upgrade rewards this run wrote to the ledger (a re-run writes none again).
    pub rewards_granted: u64,
    /// What the night's churn scoring did: the model version used, the versions passed
    /// over and why, users scored and invited, the scores' deciles, the inputs' drift.
    pub churn_scoring: Option<serde_json::Value>,
    /// What the night's value forecasts did: the version, each target's way and users, the
    /// whale candidates picked.
    pub value_scoring: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfm(r: i64, f: i64, m: i64, pv: i64) -> Rfm {
        Rfm { recency_days: r, frequency: f, monetary: m, partner_visits: pv, partner_tokens: 0 }
    }

    /// (R, F, M, partner visits, balance) → segment, between bands.
    type Case = ((i64, i64, i64, i64, i64), &'static str, bool);

    /// Checks `rules` against every case.
    fn check(rules: &SegmentRules, cases: &[Case]) {
        for &((r, f, m, pv, bal), segment, between) in cases {
            let got = rules.assign(&rfm(r, f, m, pv), bal);
            assert_eq!(
                (got.segment.as_str(), got.between_bands),
                (segment, between),
                "R{r} F{f} M{m} PV{pv} B{bal}"
            );
        }
    }

    /// Every default rule (the seed's nightly SQL), at and just beyond each of its thresholds.
    /// Balance and partner visits never matter.
    #[test]
    fn seed_rules_table() {
        let rules = SegmentRules::default();
        check(
            &rules,
            &[
                // (R, F, M, partner visits, balance) → segment, between bands
                ((2, 30, 10_000, 0, 0), "Whale", false),
                ((0, 900, 1_000_000, 40, 50_000), "Whale", false),
                ((3, 30, 10_000, 0, 0), "High Engaged", false),
                ((2, 29, 10_000, 0, 0), "High Engaged", false),
                ((2, 30, 9_999, 0, 0), "High Engaged", false),
                ((5, 15, 2_000, 0, 0), "High Engaged", false),
                ((6, 15, 2_000, 0, 0), "Low", true),
                ((5, 14, 2_000, 0, 0), "Low", true),
                ((5, 15, 1_999, 0, 0), "Low", true),
                ((15, 5, 100, 0, 0), "Medium", false),
                ((0, 14, 1_999, 9, 9_999), "Medium", false),
                ((16, 14, 1_999, 0, 0), "Low", false),
                ((15, 4, 100, 0, 0), "Low", false),
                ((15, 5, 99, 0, 0), "Low", false),
                ((15, 15, 100, 0, 0), "Low", true),
                ((15, 5, 2_000, 0, 0), "Low", true),
                ((30, 0, 0, 0, 0), "Low", false),
            ],
        );
        assert_eq!(rules.rank("Whale"), 0);
        assert_eq!(rules.rank("Low"), 3);
    }

    /// The seed's prose form, kept commented out in `config/playpulse.toml`: the SQL rules
    /// plus a Whale's balance, High Engaged partner visits, and a Medium user who is neither
    /// recent nor absent from partner A.
    fn seed_prose_rules() -> SegmentRules {
        let mut rules = SegmentRules::default();
        rules.rules[0].balance = band(Some(1_000), None);
        rules.rules[1].partner_visits = band(Some(5), None);
        rules.rules[2].recency_days = band(Some(6), Some(15));
        rules.rules[2].partner_visits = band(Some(2), Some(4));
        rules
    }

    #[test]
    fn seed_prose_rules_table() {
        check(
            &seed_prose_rules(),
            &[
                ((2, 30, 10_000, 0, 1_000), "Whale", false),
                ((3, 30, 10_000, 5, 1_000), "High Engaged", false),
                ((2, 29, 10_000, 5, 1_000), "High Engaged", false),
                ((2, 30, 9_999, 5, 1_000), "High Engaged", false),
                ((2, 30, 10_000, 5, 999), "High Engaged", false),
                ((5, 15, 2_000, 5, 0), "High Engaged", false),
                ((6, 15, 2_000, 5, 0), "Low", true),
                ((5, 14, 2_000, 5, 0), "Low", true),
                ((5, 15, 1_999, 5, 0), "Low", true),
                ((5, 15, 2_000, 4, 0), "Low", true),
                ((6, 5, 100, 2, 0), "Medium", false),
                ((15, 14, 1_999, 4, 0), "Medium", false),
                ((5, 14, 1_999, 4, 0), "Low", true),
                ((16, 14, 1_999, 4, 0), "Low", false),
                ((6, 4, 100, 2, 0), "Low", false),
                ((6, 5, 99, 2, 0), "Low", false),
                ((6, 5, 100, 1, 0), "Low", false),
                ((6, 5, 100, 5, 0), "Low", true),
                ((6, 5, 2_000, 2, 0), "Low", true),
                ((6, 15, 100, 2, 0), "Low", true),
                ((30, 0, 0, 0, 0), "Low", false),
            ],
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let mut rules = SegmentRules::default();
        rules.rules[2].frequency = band(Some(10), Some(5));
        assert!(rules.validate().unwrap_err().contains("Medium"));
        let mut rules = SegmentRules::default();
        rules.rules[1].name = "Whale".into();
        assert!(rules.validate().unwrap_err().contains("twice"));
        assert!(SegmentRules::default().validate().is_ok());
    }
}
