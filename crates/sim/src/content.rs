//! The simulated app's staged content: two series whose stages users unlock in order, the
//! second for adults (19+) only. [`catalog`] is the same catalog in the import format of
//! `playpulse content import`, so the demo unlocks through the real catalog.

use serde_json::{Value, json};

/// Stages in each series.
pub const STAGES: u32 = 40;

/// One series of staged content.
pub struct Series {
    pub id: &'static str,
    pub adult: bool,
    /// Names in Korean and English.
    pub names: [&'static str; 2],
}

/// The story for everyone, then the late-night series for age-verified adults.
pub const SERIES: [Series; 2] = [
    Series { id: "story", adult: false, names: ["모험 이야기", "Adventure story"] },
    Series { id: "adult", adult: true, names: ["심야 시리즈", "After-dark series"] },
];

/// Tokens stage `stage` (1-based) costs: each stage a little dearer.
pub fn cost(stage: u32) -> i64 {
    30 * i64::from(stage)
}

impl Series {
    /// The content id of a stage, e.g. `story-07`.
    pub fn content_id(&self, stage: u32) -> String {
        format!("{}-{stage:02}", self.id)
    }
}

/// Every stage of every series as catalog items.
pub fn catalog() -> Vec<Value> {
    let mut items = Vec::new();
    for series in &SERIES {
        let [ko, en] = series.names;
        for stage in 1..=STAGES {
            let id = series.content_id(stage);
            items.push(json!({
                "content_id": id,
                "series": series.id,
                "stage": stage,
                "name": {"ko": format!("{ko} {stage}화"), "en": format!("{en}, part {stage}")},
                "description": {"ko": format!("{ko}의 {stage}번째 이야기."), "en": format!("Part {stage} of the {en}.")},
                "thumbnail_url": format!("https://cdn.example.com/{}/{stage}/thumb.png", series.id),
                "media_url": format!("https://cdn.example.com/{}/{stage}/episode.mp4", series.id),
                "adult": series.adult,
                "cost": cost(stage),
            }));
        }
    }
    items
}
