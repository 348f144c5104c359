//! The texts of notifications: a title and a body in Korean and English per kind, with
//! `{placeholders}` filled from the figures the notification carries. The defaults are
//! below; `[notify.templates.KIND]` replaces a kind's, checked when the config loads.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::text;

/// A text in each language the product speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub ko: String,
    pub en: String,
}

/// A kind's title and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub title: Texts,
    pub body: Texts,
}

/// Each kind the engine writes, with the figures its texts may use.
pub const KINDS: [(&str, &[&str]); 5] = [
    ("NEW_TOKEN_ARRIVAL", &["amount"]),
    ("SEGMENT_UPGRADE", &["from", "to", "reward"]),
    ("STREAK_REMINDER", &["streak"]),
    ("CHURN_INVITATION", &[]),
    ("VIP_INVITATION", &[]),
];

/// Words that claim odds or a certain win. No kind carries a figure from the disclosed odds
/// table, so a text has nothing to back such a claim with.
const ODDS_WORDS: [&str; 12] = [
    "odds",
    "chance",
    "probability",
    "guarantee",
    "sure win",
    "jackpot",
    "확률",
    "승률",
    "당첨률",
    "보장",
    "확정",
    "퍼센트",
];

fn texts(ko: &str, en: &str) -> Texts {
    Texts { ko: ko.to_owned(), en: en.to_owned() }
}

/// The built-in template of `kind`, if the engine writes that kind.
pub fn default_template(kind: &str) -> Option<Template> {
    match kind {
        // The seed's text.
        "NEW_TOKEN_ARRIVAL" => Some(Template {
            title: texts("토큰 도착!", "Tokens arrived!"),
            body: texts(
                "A 업체에서 {amount} 사이버 토큰을 획득했습니다! 바로 게임에서 사용해보세요.",
                "You earned {amount} cyber tokens at partner A! Use them in a game now.",
            ),
        }),
        "SEGMENT_UPGRADE" => Some(Template {
            title: texts("등급이 올랐어요!", "You moved up!"),
            body: texts(
                "{to} 등급이 되었어요. 보상으로 사이버 토큰 {reward}개를 드려요.",
                "You are now {to}. Here are {reward} cyber tokens as a reward.",
            ),
        }),
        "STREAK_REMINDER" => Some(Template {
            title: texts("{streak}일 연속 플레이 중!", "{streak}-day streak!"),
            body: texts(
                "{streak}일 연속으로 플레이했어요. 오늘도 한 판 하고 기록을 이어가세요.",
                "You have played {streak} days in a row. Play today to keep your streak going.",
            ),
        }),
        // The seed's answer to a likely churner: a special partner event.
        "CHURN_INVITATION" => Some(Template {
            title: texts("특별 이벤트에 초대합니다", "You're invited to a special event"),
            body: texts(
                "A 업체에서 특별 이벤트가 열리고 있어요. 들러서 사이버 토큰을 받아 가세요.",
                "Partner A is running a special event. Drop by and collect cyber tokens.",
            ),
        }),
        // The seed's VIP rewards for whale candidates.
        "VIP_INVITATION" => Some(Template {
            title: texts("VIP 초대장이 도착했어요", "Your VIP invitation"),
            body: texts(
                "소중한 플레이어님을 위한 VIP 테이블이 열렸어요.",
                "The VIP table is open to you, one of our most valued players.",
            ),
        }),
        _ => None,
    }
}

impl Template {
    /// Checks a configured template of `kind`: a kind the engine writes, both languages
    /// written, only that kind's placeholders, and no claim of odds.
    pub fn check(&self, kind: &str) -> Result<(), String> {
        let Some((_, known)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            return Err(format!("no notification of kind {kind} is made (kinds: {})", kinds.join(", ")));
        };
        for (part, texts) in [("title", &self.title), ("body", &self.body)] {
            for (lang, text) in [("ko", &texts.ko), ("en", &texts.en)] {
                check_text(text, known).map_err(|e| format!("{part}.{lang}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The texts with `figures`' values in place: `{"title": {"ko", "en"}, "body": {…}}`.
    pub fn render(&self, figures: &Value) -> Value {
        let fill = |text: &str| fill(text, figures);
        json!({
            "title": {"ko": fill(&self.title.ko), "en": fill(&self.title.en)},
            "body": {"ko": fill(&self.body.ko), "en": fill(&self.body.en)},
        })
    }
}

fn check_text(text: &str, known: &[&str]) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("is empty".into());
    }
    if text.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    for piece in pieces(text)? {
        if let Piece::Placeholder(name) = piece
            && !known.contains(&name)
        {
            let known: Vec<String> = known.iter().map(|k| format!("{{{k}}}")).collect();
            return Err(format!("unknown placeholder {{{name}}}; this kind's are {}", known.join(", ")));
        }
    }
    let lower = text.to_lowercase();
    if let Some(word) = ODDS_WORDS.iter().find(|w| lower.contains(*w)) {
        return Err(format!("claims odds (\"{word}\"), which no disclosed figure backs"));
    }
    if text.contains('%') {
        return Err("claims odds (a percentage), which no disclosed figure backs".into());
    }
    Ok(())
}

enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// A text as literal runs and `{name}` placeholders; a brace without its pair is an error.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("has a } without its {".into());
        }
        let close = rest[open..].find('}').ok_or("has a { without its }")? + open;
        let name = &rest[open + 1..close];
        if name.is_empty() || name.contains('{') {
            return Err("has a { without its }".into());
        }
        out.push(Piece::Literal(&rest[..open]));
        out.push(Piece::Placeholder(name));
        rest = &rest[close + 1..];
    }
    out.push(Piece::Literal(rest));
    Ok(out)
}

/// `text` with each placeholder replaced by its figure: integers with thousands separators,
/// text as it is. A checked template names only figures its kind carries.
fn fill(text: &str, figures: &Value) -> String {
    let Ok(pieces) = pieces(text) else { return text.to_owned() };
    pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Literal(literal) => literal.to_owned(),
            Piece::Placeholder(name) => match &figures[name] {
                Value::Number(n) => n.as_i64().map_or_else(|| n.to_string(), text::grouped),
                Value::String(s) => s.clone(),
                _ => String::new(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_body(ko: &str, en: &str) -> Template {
        Template { body: texts(ko, en), ..default_template("NEW_TOKEN_ARRIVAL").unwrap() }
    }

    #[test]
    fn the_defaults_pass_their_own_check() {
        for (kind, _) in KINDS {
            default_template(kind).unwrap().check(kind).unwrap();
        }
    }

    #[test]
    fn the_seed_text_is_filled_with_the_amount() {
        let texts = default_template("NEW_TOKEN_ARRIVAL").unwrap().render(&json!({"amount": 500}));
        assert_eq!(
            texts["body"]["ko"],
            "A 업체에서 500 사이버 토큰을 획득했습니다! 바로 게임에서 사용해보세요."
        );
        let upgrade = default_template("SEGMENT_UPGRADE").unwrap();
        let texts = upgrade.render(&json!({"from": "Medium", "to": "Whale", "reward": 12500}));
        assert_eq!(texts["body"]["en"], "You are now Whale. Here are 12,500 cyber tokens as a reward.");
    }

    #[test]
    fn a_template_that_cannot_be_filled_truthfully_is_refused() {
        let refused = |t: Template| t.check("NEW_TOKEN_ARRIVAL").unwrap_err();
        assert!(
            refused(with_body("{amout} 토큰", "{amount} tokens")).contains("unknown placeholder {amout}")
        );
        assert!(refused(with_body("{reward} 토큰", "x")).contains("body.ko"), "another kind's figure");
        assert!(refused(with_body("토큰", "")).contains("body.en: is empty"));
        assert!(refused(with_body("{amount 토큰", "x")).contains("without its }"));
        assert!(refused(with_body("amount} 토큰", "x")).contains("without its {"));
        assert!(refused(with_body("{} 토큰", "x")).contains("without its }"));
        assert!(refused(with_body("토큰\0", "x")).contains("control character"));
        assert!(refused(with_body("당첨 확률 2배!", "x")).contains("claims odds"));
        assert!(refused(with_body("토큰", "90% chance to win")).contains("claims odds"));
        assert!(refused(with_body("토큰", "Win the JACKPOT")).contains("claims odds"));
        let unknown = default_template("NEW_TOKEN_ARRIVAL").unwrap().check("STREAK").unwrap_err();
        assert!(unknown.contains("no notification of kind STREAK"));
    }
}
