//! The psychometric quiz: a versioned questionnaire whose answers score a user's appetite
//! for risk, and the risk profile that score maps to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most items one questionnaire may have.
pub const MAX_ITEMS: usize = 100;

/// How an item is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// 1 (strongly disagree) to 5 (strongly agree); 3 is neutral.
    Likert,
    /// `true` or `false`.
    YesNo,
}

/// A text in every language the product speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub ko: String,
    pub en: String,
}

impl Localized {
    /// The text in `lang`; Korean, the default, for anything else.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }
}

/// The languages texts are rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Ko,
    En,
}

impl Lang {
    /// `en` (or `en-US` …) is English; everything else gets the default, Korean.
    pub fn from_tag(tag: Option<&str>) -> Self {
        match tag {
            Some(t) if t.eq_ignore_ascii_case("en") || t.to_ascii_lowercase().starts_with("en-") => Lang::En,
            _ => Lang::Ko,
        }
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    /// The page of a multi-step form the item appears on, from 1.
    pub step: u32,
    pub kind: ItemKind,
    /// How much the item counts.
    pub weight: f64,
    /// +1 when agreeing means more appetite for risk, -1 when it means less.
    pub direction: i8,
    pub text: Localized,
}

/// The questionnaire and the thresholds that turn its score into a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    /// Raised whenever items change; answers to another version are refused.
    pub version: u32,
    /// A score at or above this is High-Risk.
    pub high_at: f64,
    /// A score at or below this is Low-Risk.
    pub low_at: f64,
    pub items: Vec<Item>,
}

/// The profile a score maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiskProfile {
    #[serde(rename = "High-Risk")]
    High,
    #[serde(rename = "Moderate-Risk")]
    Moderate,
    #[serde(rename = "Low-Risk")]
    Low,
}

impl RiskProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskProfile::High => "High-Risk",
            RiskProfile::Moderate => "Moderate-Risk",
            RiskProfile::Low => "Low-Risk",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [RiskProfile::High, RiskProfile::Moderate, RiskProfile::Low].into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for RiskProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a submission was refused; `item` names the item at fault, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct AnswerError {
    pub code: &'static str,
    pub item: Option<String>,
    pub detail: String,
}

impl AnswerError {
    fn new(code: &'static str, item: Option<&str>, detail: String) -> Self {
        Self { code, item: item.map(str::to_owned), detail }
    }
}

/// A scored submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub profile: RiskProfile,
}

impl Default for Quiz {
    /// Six items on two steps; thresholds reproduce the seed (score ≥ 2 high, ≤ -2 low).
    fn default() -> Self {
        let item = |id: &str, step, kind, direction, ko: &str, en: &str| Item {
            id: id.into(),
            step,
            kind,
            weight: 1.0,
            direction,
            text: Localized { ko: ko.into(), en: en.into() },
        };
        use ItemKind::{Likert, YesNo};
        Quiz {
            version: 1,
            high_at: 2.0,
            low_at: -2.0,
            items: vec![
                item(
                    "thrill",
                    1,
                    Likert,
                    1,
                    "위험을 감수할 때 짜릿함을 느낀다.",
                    "Taking a risk feels thrilling to me.",
                ),
                item(
                    "big_win",
                    1,
                    Likert,
                    1,
                    "작게 여러 번보다 크게 한 번 이기고 싶다.",
                    "I would rather win big once than small many times.",
                ),
                item(
                    "steady",
                    1,
                    Likert,
                    -1,
                    "결과가 예측 가능한 게임이 좋다.",
                    "I like games whose outcome I can predict.",
                ),
                item(
                    "all_in",
                    2,
                    YesNo,
                    1,
                    "가진 토큰을 한 번에 모두 건 적이 있다.",
                    "I have staked all my tokens at once before.",
                ),
                item(
                    "stop_rule",
                    2,
                    YesNo,
                    -1,
                    "플레이 전에 쓸 토큰의 한도를 정한다.",
                    "I set a limit on the tokens I spend before I play.",
                ),
                item(
                    "chase",
                    2,
                    Likert,
                    1,
                    "지고 나면 바로 되찾고 싶어진다.",
                    "After a loss I want to win it back right away.",
                ),
            ],
        }
    }
}

impl Quiz {
    /// Checks the questionnaire itself (at config load): unique ids, sane kinds and weights.
    pub fn validate(&self) -> Result<(), String> {
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(format!("a quiz has 1 to {MAX_ITEMS} items"));
        }
        if self.low_at >= self.high_at {
            return Err(format!("low_at ({}) must be below high_at ({})", self.low_at, self.high_at));
        }
        let mut ids = BTreeSet::new();
        for item in &self.items {
            if item.id.is_empty() || !ids.insert(item.id.as_str()) {
                return Err(format!("item id {:?} is empty or repeated", item.id));
            }
            if item.step == 0 || !item.weight.is_finite() || item.weight <= 0.0 || item.direction.abs() != 1 {
                return Err(format!("item {:?}: step ≥ 1, a positive weight and direction ±1", item.id));
            }
        }
        Ok(())
    }

    /// The items grouped by step, in step order.
    pub fn steps(&self) -> BTreeMap<u32, Vec<&Item>> {
        let mut steps: BTreeMap<u32, Vec<&Item>> = BTreeMap::new();
        for item in &self.items {
            steps.entry(item.step).or_default().push(item);
        }
        steps
    }

    /// Validates every answer and scores them. `answers` maps item ids to values (an integer
    /// 1–5 for Likert items, a boolean for yes/no ones); every item needs exactly one.
    pub fn score(
        &self,
        version: u32,
        answers: &serde_json::Map<String, Value>,
    ) -> Result<Scored, AnswerError> {
        if version != self.version {
            return Err(AnswerError::new(
                "stale_quiz_version",
                None,
                format!("answers are for version {version}; the current quiz is version {}", self.version),
            ));
        }
        if let Some(unknown) = answers.keys().find(|k| !self.items.iter().any(|i| &i.id == *k)) {
            return Err(AnswerError::new(
                "unknown_item",
                Some(unknown),
                format!("item `{unknown}` is not in quiz version {}", self.version),
            ));
        }
        let mut score = 0.0;
        for item in &self.items {
            let Some(value) = answers.get(&item.id) else {
                return Err(AnswerError::new(
                    "missing_answer",
                    Some(&item.id),
                    format!("item `{}` has no answer", item.id),
                ));
            };
            // Each item contributes -1 … +1 times its weight, in its direction.
            let lean = match (item.kind, value) {
                (ItemKind::Likert, Value::Number(n)) => match n.as_i64().filter(|v| (1..=5).contains(v)) {
                    Some(v) => (v - 3) as f64 / 2.0,
                    None => {
                        return Err(AnswerError::new(
                            "answer_out_of_range",
                            Some(&item.id),
                            format!("item `{}` takes a whole number from 1 to 5, not {n}", item.id),
                        ));
                    }
                },
                (ItemKind::YesNo, Value::Bool(yes)) => {
                    if *yes {
                        1.0
                    } else {
                        -1.0
                    }
                }
                (kind, other) => {
                    let expected =
                        if kind == ItemKind::Likert { "a number from 1 to 5" } else { "true or false" };
                    return Err(AnswerError::new(
                        "invalid_answer",
                        Some(&item.id),
                        format!("item `{}` takes {expected}, not {other}", item.id),
                    ));
                }
            };
            score += lean * item.weight * f64::from(item.direction);
        }
        Ok(Scored { score, profile: self.profile_of(score) })
    }

    pub fn profile_of(&self, score: f64) -> RiskProfile {
        if score >= self.high_at {
            RiskProfile::High
        } else if score <= self.low_at {
            RiskProfile::Low
        } else {
            RiskProfile::Moderate
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answers(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn all(likert: i64, all_in: bool, stop_rule: bool) -> serde_json::Map<String, Value> {
        answers(json!({
            "thrill": likert, "big_win": likert, "steady": 6 - likert,
            "all_in": all_in, "stop_rule": stop_rule, "chase": likert,
        }))
    }

    #[test]
    fn the_default_quiz_is_valid_and_spans_every_profile() {
        let quiz = Quiz::default();
        quiz.validate().unwrap();
        assert_eq!(quiz.steps().len(), 2);
        let high = quiz.score(1, &all(5, true, false)).unwrap();
        assert_eq!((high.score, high.profile), (6.0, RiskProfile::High));
        let low = quiz.score(1, &all(1, false, true)).unwrap();
        assert_eq!((low.score, low.profile), (-6.0, RiskProfile::Low));
        let neutral = quiz.score(1, &all(3, true, true)).unwrap();
        assert_eq!((neutral.score, neutral.profile), (0.0, RiskProfile::Moderate));
    }

    #[test]
    fn thresholds_are_inclusive_as_in_the_seed() {
        let quiz = Quiz::default();
        assert_eq!(quiz.profile_of(2.0), RiskProfile::High);
        assert_eq!(quiz.profile_of(1.99), RiskProfile::Moderate);
        assert_eq!(quiz.profile_of(-2.0), RiskProfile::Low);
        assert_eq!(quiz.profile_of(-1.99), RiskProfile::Moderate);
    }

    #[test]
    fn every_bad_answer_names_its_item() {
        let quiz = Quiz::default();
        let with = |key: &str, value: Value| {
            let mut a = all(3, true, true);
            a.insert(key.into(), value);
            a
        };
        let without = |key: &str| {
            let mut a = all(3, true, true);
            a.remove(key);
            a
        };
        let cases = [
            (with("thrill", json!(6)), "answer_out_of_range", Some("thrill")),
            (with("thrill", json!(0)), "answer_out_of_range", Some("thrill")),
            (with("thrill", json!(2.5)), "answer_out_of_range", Some("thrill")),
            (with("thrill", json!("5")), "invalid_answer", Some("thrill")),
            (with("all_in", json!(1)), "invalid_answer", Some("all_in")),
            (with("mood", json!(3)), "unknown_item", Some("mood")),
            (without("chase"), "missing_answer", Some("chase")),
        ];
        for (answers, code, item) in cases {
            let err = quiz.score(1, &answers).unwrap_err();
            assert_eq!((err.code, err.item.as_deref()), (code, item), "{err}");
        }
        let stale = quiz.score(0, &all(3, true, true)).unwrap_err();
        assert_eq!(stale.code, "stale_quiz_version");
    }

    #[test]
    fn a_broken_questionnaire_is_refused_at_load() {
        let mut quiz = Quiz::default();
        quiz.items[1].id = "thrill".into();
        assert!(quiz.validate().unwrap_err().contains("thrill"));
        let mut quiz = Quiz::default();
        quiz.items[0].direction = 0;
        assert!(quiz.validate().is_err());
        let quiz = Quiz { low_at: 3.0, ..Quiz::default() };
        assert!(quiz.validate().is_err());
    }
}
