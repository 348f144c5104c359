//! Proposal texts: templates per proposal type and variant, in every language, rendered with
//! the facts that triggered them. Checked at load: known placeholders only, and no claim
//! about odds or chances (games disclose their odds themselves, in `GET /v1/games`).

use std::collections::BTreeMap;

use playpulse_core::quiz::{Lang, Localized};
use serde::{Deserialize, Serialize};

/// The values a template may use, by placeholder name.
pub type Vars = BTreeMap<&'static str, String>;

/// Every placeholder a template may contain.
pub const PLACEHOLDERS: [&str; 7] =
    ["balance", "needed", "game", "partner_tokens", "partner_goal", "partner_remaining", "content"];

/// Words that would claim changed odds or win chances; no template may contain them.
const ODDS_CLAIMS: [&str; 12] = [
    "odds",
    "chance",
    "probab",
    "likely",
    "guarantee",
    "%",
    "확률",
    "승률",
    "당첨률",
    "보장",
    "배당",
    "잘 터지",
];

/// One wording of one proposal type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The proposal type it words, e.g. `MID_STAKE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Variant id within the type; the first listed is the static policy's.
    pub variant: String,
    pub text: Localized,
}

/// Fills `{name}` placeholders from `vars`; an unknown name is left as it is (and caught by
/// [`check`] at load).
pub fn render(text: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if vars.contains_key(name) => {
                out.push_str(&vars[name]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a text uses.
fn placeholders(text: &str) -> Vec<&str> {
    text.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name)).collect()
}

/// Checks one template: known placeholders, balanced braces, no odds claims, both languages.
pub fn check(template: &Template) -> Result<(), String> {
    let name = format!("template {}/{}", template.kind, template.variant);
    for lang in [Lang::Ko, Lang::En] {
        let text = template.text.get(lang);
        if text.trim().is_empty() {
            return Err(format!("{name}: the {lang:?} text is empty"));
        }
        if text.matches('{').count() != text.matches('}').count() {
            return Err(format!("{name}: unbalanced braces in {text:?}"));
        }
        if let Some(unknown) = placeholders(text).into_iter().find(|p| !PLACEHOLDERS.contains(p)) {
            return Err(format!(
                "{name}: unknown placeholder {{{unknown}}}; known: {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        let lower = text.to_lowercase();
        if let Some(claim) = ODDS_CLAIMS.iter().find(|w| lower.contains(*w)) {
            return Err(format!(
                "{name}: {claim:?} reads as a claim about odds; games disclose odds, texts do not"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        PLACEHOLDERS.iter().map(|p| (*p, format!("<{p}>"))).collect()
    }

    #[test]
    fn placeholders_are_filled_and_strangers_kept() {
        let text = "You have {balance} tokens; {unknown} stays; a lone { too.";
        assert_eq!(render(text, &vars()), "You have <balance> tokens; {unknown} stays; a lone { too.");
    }

    #[test]
    fn odds_claims_and_unknown_placeholders_are_refused() {
        let template = |en: &str| Template {
            kind: "MID_STAKE".into(),
            variant: "a".into(),
            text: Localized { ko: "토큰 {balance}개".into(), en: en.into() },
        };
        assert!(check(&template("Play with {balance} tokens")).is_ok());
        assert!(check(&template("Better odds tonight!")).unwrap_err().contains("odds"));
        assert!(check(&template("A 90% win rate")).is_err());
        assert!(check(&template("Hi {name}")).unwrap_err().contains("{name}"));
        assert!(check(&template("Hi {balance")).unwrap_err().contains("braces"));
    }
}
