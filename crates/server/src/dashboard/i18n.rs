//! Korean (the default) and English: the words of every page, and numbers as each reads them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::session::cookie;

/// The language cookie's name.
pub const LANG_COOKIE: &str = "playpulse_lang";

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ko,
    En,
}

impl Lang {
    /// The code of `<html lang>` and of the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        [Lang::Ko, Lang::En].into_iter().find(|l| l.code() == code)
    }

    /// The other language, which the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ko => Lang::En,
            Lang::En => Lang::Ko,
        }
    }

    /// `text` (written in English) in this language.
    pub fn t(self, text: &'static str) -> &'static str {
        match self {
            Lang::En => text,
            Lang::Ko => KO.iter().find(|(en, _)| *en == text).map_or(text, |(_, ko)| ko),
        }
    }

    /// An integer with thousands separators (both languages group by three with commas).
    pub fn int(self, n: i64) -> String {
        playpulse_core::text::grouped(n)
    }

    /// A number with `places` decimals, grouped.
    pub fn dec(self, x: f64, places: usize) -> String {
        if !x.is_finite() {
            return "–".into();
        }
        let text = format!("{:.*}", places, x.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let whole: i64 = whole.parse().unwrap_or(0);
        let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
        let grouped = self.int(whole);
        if fraction.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{fraction}") }
    }

    /// A share (0.123) as a percentage ("12.3%").
    pub fn pct(self, share: f64) -> String {
        format!("{}%", self.dec(share * 100.0, 1))
    }
}

/// The language of a request: its cookie, else Korean.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or(Lang::Ko))
    }
}

/// Korean for every English text the pages use.
const KO: &[(&str, &str)] = &[
    ("Overview", "개요"),
    ("Retention", "리텐션"),
    ("Economy", "경제"),
    ("Segments", "세그먼트"),
    ("Peak hours", "피크 시간"),
    ("Proposals", "제안"),
    ("Jobs", "작업"),
    ("Users", "사용자"),
    ("API keys", "API 키"),
    ("Sign in", "로그인"),
    ("Sign out", "로그아웃"),
    ("Name", "이름"),
    ("Password", "비밀번호"),
    ("Refused", "거부됨"),
    ("Back to the dashboard", "대시보드로 돌아가기"),
    ("Wrong name or password.", "이름 또는 비밀번호가 올바르지 않습니다."),
    (
        "This account is locked for a while after repeated wrong passwords.",
        "비밀번호를 여러 번 잘못 입력하여 계정이 잠시 잠겼습니다.",
    ),
    ("Active today", "오늘 활성"),
    ("Token supply", "토큰 발행 잔액"),
    ("Notifications waiting", "대기 중인 알림"),
    ("Segment", "세그먼트"),
    ("Key", "키"),
    ("Scopes", "권한"),
    ("Created", "생성"),
    ("State", "상태"),
    ("Revoke", "폐기"),
    ("revoked", "폐기됨"),
    ("active", "활성"),
    ("Show as a table", "표로 보기"),
    ("No data in this period.", "이 기간에는 데이터가 없습니다."),
    ("Last 30 days", "최근 30일"),
    ("Previous 30 days", "이전 30일"),
    ("Daily active users", "일간 활성 사용자"),
    ("Monthly active users", "월간 활성 사용자"),
    ("Stickiness (DAU/MAU)", "고착도 (DAU/MAU)"),
    ("New users", "신규 사용자"),
    ("Churn rate", "이탈률"),
    ("Payers", "결제자"),
    ("ARPDAU", "ARPDAU"),
    ("ARPPU", "ARPPU"),
    ("Net token flow", "순 토큰 흐름"),
    ("Day", "일"),
    ("Week", "주"),
    ("Month", "월"),
    ("Earned", "획득"),
    ("Spent", "사용"),
    ("Earned by source and spent by sink", "출처별 획득과 용도별 사용"),
    ("Partner A", "A 업체"),
    ("App", "앱"),
    ("Rewards", "보상"),
    ("Purchased", "구매"),
    ("Games", "게임"),
    ("Unlocks", "잠금 해제"),
    ("Items", "아이템"),
    ("Period", "기간"),
    ("Cohort", "코호트"),
    ("Exactly in period N", "N번째 기간에 정확히"),
    ("In period N or later", "N번째 기간 이후"),
    ("Weekday", "요일"),
    ("Hour", "시"),
    ("Events", "이벤트"),
    ("Mix over time", "시간에 따른 구성"),
    ("Transitions since the previous night", "전날 밤 대비 이동"),
    ("From", "이전"),
    ("To", "이후"),
    ("Members", "구성원"),
    ("Funnel by type and variant", "유형·변형별 퍼널"),
    ("Type", "유형"),
    ("Variant", "변형"),
    ("Impressions", "노출"),
    ("Clicks", "클릭"),
    ("Conversions", "전환"),
    ("Nightly runs", "야간 실행"),
    ("Started", "시작"),
    ("Duration", "소요 시간"),
    ("Status", "상태"),
    ("Rows", "행"),
    ("Error", "오류"),
    ("Find a user", "사용자 찾기"),
    ("User id", "사용자 ID"),
    ("Find", "찾기"),
    ("No user has that id.", "해당 ID의 사용자가 없습니다."),
    ("Balance", "잔액"),
    ("Streak (days)", "연속 플레이 (일)"),
    ("Last action", "마지막 활동"),
    ("First seen", "처음 방문"),
    ("Age verified", "연령 확인"),
    ("Risk profile", "위험 성향"),
    ("Ledger", "원장"),
    ("Reason", "사유"),
    ("Change", "변동"),
    ("Balance after", "변동 후 잔액"),
    ("When", "시각"),
    ("Older entries", "이전 내역"),
    ("Since", "부터"),
    ("yes", "예"),
    ("no", "아니요"),
    ("Limits", "한도"),
    (
        "The analytics engine could not answer; try again.",
        "분석 엔진이 응답하지 않았습니다. 다시 시도하세요.",
    ),
    ("The database did not answer; try again.", "데이터베이스가 응답하지 않았습니다. 다시 시도하세요."),
    (
        "This action is an admin's; your account is a viewer's.",
        "관리자만 할 수 있는 작업입니다. 이 계정은 조회 권한만 있습니다.",
    ),
    (
        "The form's security token is missing or stale: reload the page and try again.",
        "양식의 보안 토큰이 없거나 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
    ),
    (
        "Too many sign-in attempts from this address: wait a minute.",
        "이 주소에서 로그인 시도가 너무 많습니다. 1분 후 다시 시도하세요.",
    ),
    ("No active key has that id.", "해당 ID의 활성 키가 없습니다."),
    ("No such page.", "해당 페이지가 없습니다."),
    ("Previous period", "이전 기간"),
    ("Between bands", "경계 구간 사용자"),
    ("Next page", "다음 페이지"),
    ("Learned weights", "학습된 가중치"),
    ("Weight", "가중치"),
    ("Night", "배치일"),
    ("Report", "보고"),
    ("Segment history", "세그먼트 이력"),
    ("Harm markers", "위험 신호"),
    ("Daily spend", "일일 사용 한도"),
    ("protective policy", "보호 정책"),
    ("Cool-off until", "휴식 종료"),
    ("Excluded until", "이용 제한 종료"),
    ("Set limits at the user's request", "사용자 요청에 따른 한도 설정"),
    ("Save", "저장"),
    ("Run again", "다시 실행"),
    ("No job run has that id.", "해당 ID의 작업 실행이 없습니다."),
    ("Only a failed run can be run again.", "실패한 실행만 다시 실행할 수 있습니다."),
    ("This job cannot be run from the dashboard.", "이 작업은 대시보드에서 실행할 수 없습니다."),
    ("The change was refused.", "변경이 거부되었습니다."),
    ("The form could not be read.", "양식을 읽을 수 없습니다."),
    ("The daily spend must be a whole number of tokens.", "일일 사용 한도는 토큰 단위의 정수여야 합니다."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_alike_in_both_languages() {
        for lang in [Lang::Ko, Lang::En] {
            assert_eq!(lang.int(0), "0");
            assert_eq!(lang.int(1_234_567), "1,234,567");
            assert_eq!(lang.int(-1000), "-1,000");
            assert_eq!(lang.int(i64::MIN), "-9,223,372,036,854,775,808");
            assert_eq!(lang.dec(12345.678, 2), "12,345.68");
            assert_eq!(lang.dec(-0.001, 1), "0.0");
            assert_eq!(lang.dec(f64::NAN, 1), "–");
            assert_eq!(lang.pct(0.1234), "12.3%");
        }
    }

    #[test]
    fn every_text_has_one_korean_translation() {
        let mut seen = std::collections::BTreeSet::new();
        for (en, ko) in KO {
            assert!(seen.insert(*en), "{en} is translated twice");
            assert!(!ko.is_empty() && ko != en || *en == "ARPDAU" || *en == "ARPPU", "{en}");
        }
        assert_eq!(Lang::Ko.t("Overview"), "개요");
        assert_eq!(Lang::En.t("Overview"), "Overview");
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }

    /// Every English text the pages show has its Korean (a missing one would show English on
    /// a Korean page): the literals they pass to `t` or name `text`, the refusals' messages,
    /// and the tables of names.
    #[test]
    fn every_text_the_pages_use_is_translated() {
        let sources = [
            include_str!("layout.rs"),
            include_str!("login.rs"),
            include_str!("session.rs"),
            include_str!("overview.rs"),
            include_str!("retention.rs"),
            include_str!("economy.rs"),
            include_str!("segments.rs"),
            include_str!("hours.rs"),
            include_str!("proposals.rs"),
            include_str!("jobs.rs"),
            include_str!("users.rs"),
            include_str!("keys.rs"),
            include_str!("kpi.rs"),
            include_str!("chart.rs"),
        ];
        let quoted =
            |text: &str| -> Vec<String> { text.split('"').skip(1).step_by(2).map(str::to_owned).collect() };
        let mut used = Vec::new();
        for source in sources {
            for marker in [".t(\"", "let text = \""] {
                for (at, _) in source.match_indices(marker) {
                    let rest = &source[at + marker.len()..];
                    used.extend(rest.split_once('"').map(|(text, _)| text.to_owned()));
                }
            }
            // A refusal's message is its last literal (the first is its code).
            for (at, _) in source.match_indices("Refusal::new(") {
                let call = source[at..].split_once(')').map_or("", |(call, _)| call);
                used.extend(quoted(call).into_iter().skip(1).last());
            }
        }
        used.extend(super::super::layout::NAVIGATION.iter().map(|(_, name)| (*name).to_owned()));
        used.extend(super::super::overview::HEADLINES.iter().map(|h| h.title.to_owned()));
        used.extend(super::super::economy::FLOWS.iter().map(|(_, name, _)| (*name).to_owned()));
        let missing: Vec<&String> = used.iter().filter(|text| !KO.iter().any(|(en, _)| en == text)).collect();
        assert!(used.len() > 80, "the scan found the texts: {used:?}");
        assert_eq!(missing, Vec::<&String>::new(), "texts without Korean");
    }
}
