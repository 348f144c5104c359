//! The analytics engine: DataFusion in-process over the event lake. Every query is SQL text
//! in `crates/lake/sql/`, one file per metric, in standard SQL that a distributed engine
//! (Spark, Ballista) runs unchanged over the same Parquet files.

use std::path::Path;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use playpulse_core::segments::Rfm;

use crate::LakeError;
use crate::events::event_schema;

/// The RFM query (see the file for its parameters).
pub const RFM_SQL: &str = include_str!("../sql/rfm.sql");

/// An engine session with the lake's tables registered.
pub struct Analytics {
    ctx: SessionContext,
}

impl Analytics {
    /// Registers `events` over the committed partitions under `lake_root`.
    pub async fn open(lake_root: &Path) -> Result<Self, LakeError> {
        let ctx = SessionContext::new();
        let events = lake_root.join("events");
        std::fs::create_dir_all(&events)?;
        let schema = event_schema();
        let options = ParquetReadOptions::default()
            .schema(&schema)
            .table_partition_cols(vec![("date".to_owned(), DataType::Utf8)]);
        let path = format!("{}/", events.display());
        ctx.register_parquet("events", &path, options).await?;
        Ok(Self { ctx })
    }

    async fn run(&self, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }

    /// R, F, M, partner visits and partner tokens of every user with an event at or before
    /// `as_of_day` (days since 1970-01-01), over a window of `window_days` business days.
    pub async fn rfm(&self, as_of_day: i32, window_days: u32) -> Result<Vec<(String, Rfm)>, LakeError> {
        let sql = RFM_SQL
            .replace("{as_of_day}", &as_of_day.to_string())
            .replace("{window_days}", &window_days.to_string());
        let mut out = Vec::new();
        for batch in self.run(&sql).await? {
            let text = |name: &'static str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .ok_or(LakeError::Column(name))
            };
            let int = |name: &'static str| {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                    .ok_or(LakeError::Column(name))
            };
            let users = text("user_id")?;
            let [r, f, m, pv, pt] =
                ["recency_days", "frequency", "monetary", "partner_visits", "partner_tokens"].map(int);
            let (r, f, m, pv, pt) = (r?, f?, m?, pv?, pt?);
            for i in 0..batch.num_rows() {
                if users.is_null(i) {
                    continue;
                }
                out.push((
                    users.value(i).to_owned(),
                    Rfm {
                        recency_days: r.value(i),
                        frequency: f.value(i),
                        monetary: m.value(i),
                        partner_visits: pv.value(i),
                        partner_tokens: pt.value(i),
                    },
                ));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::Timestamp;
    use playpulse_core::time::BusinessZone;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::events::{EventLake, ExportRow};

    /// (user, instant, type, props)
    type Ev = (&'static str, Timestamp, &'static str, serde_json::Value);

    fn day_number(date: &str) -> i32 {
        let date: jiff::civil::Date = date.parse().unwrap();
        jiff::civil::date(1970, 1, 1).until(date).unwrap().get_days()
    }

    async fn rfm_of(events: &[Ev], as_of: i32, window: u32) -> BTreeMap<String, Rfm> {
        let dir = tempfile::tempdir().unwrap();
        let mut lake = EventLake::open(dir.path(), BusinessZone::default()).unwrap();
        let rows: Vec<ExportRow> = events
            .iter()
            .enumerate()
            .map(|(i, (user, ts, kind, props))| ExportRow {
                seq: i as i64 + 1,
                event_id: format!("e{i}"),
                user_id: (*user).to_owned(),
                event_type: (*kind).to_owned(),
                ts_ms: ts.as_millisecond(),
                props: props.to_string(),
            })
            .collect();
        if !rows.is_empty() {
            lake.commit(&rows, json!({})).unwrap();
        }
        let analytics = Analytics::open(dir.path()).await.unwrap();
        analytics.rfm(as_of, window).await.unwrap().into_iter().collect()
    }

    /// The definition, directly: what the SQL must agree with.
    fn model(events: &[Ev], as_of: i32, window: u32) -> BTreeMap<String, Rfm> {
        let zone = BusinessZone::default();
        let epoch = jiff::civil::date(1970, 1, 1);
        let mut out: BTreeMap<String, (i32, Rfm)> = BTreeMap::new();
        for (user, ts, kind, props) in events {
            let day = epoch.until(zone.day_of(*ts)).unwrap().get_days();
            if day > as_of {
                continue;
            }
            let (last, rfm) = out.entry((*user).to_owned()).or_insert((i32::MIN, Rfm::default()));
            *last = (*last).max(day);
            if day > as_of - window as i32 {
                let amount = props["amount"].as_i64().unwrap_or(0);
                rfm.frequency += 1;
                match *kind {
                    "SPEND_CYBER_TOKENS" => rfm.monetary += amount,
                    "PARTNER_VISIT" => rfm.partner_visits += 1,
                    "EARN_CYBER_TOKENS" if props["source"] == "partner" => rfm.partner_tokens += amount,
                    _ => {}
                }
            }
        }
        out.into_iter()
            .map(|(user, (last, mut rfm))| {
                rfm.recency_days = i64::from(as_of - last);
                (user, rfm)
            })
            .collect()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn window_edges_follow_seoul_midnight() {
        let spend = |n: i64| json!({"amount": n, "sink": "game"});
        let events: Vec<Ev> = vec![
            // 23:59:59 in Seoul on 03-01: the day before the window of 03-31.
            ("a", at("2026-03-01T14:59:59Z"), "SPEND_CYBER_TOKENS", spend(1)),
            // 00:00:00 in Seoul on 03-02: the window's first day.
            ("a", at("2026-03-01T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(10)),
            // 23:59:59 in Seoul on 03-31: the as-of day itself.
            ("a", at("2026-03-31T14:59:59Z"), "PARTNER_VISIT", json!({"dwell_s": 5, "actions": 1})),
            // 04-01 in Seoul: after the as-of day, unseen.
            ("a", at("2026-03-31T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(100)),
            // Last seen 40 days before: recency 40, nothing in the window.
            ("b", at("2026-02-19T03:00:00Z"), "EARN_CYBER_TOKENS", json!({"amount": 5, "source": "partner"})),
            ("c", at("2026-03-20T03:00:00Z"), "EARN_CYBER_TOKENS", json!({"amount": 7, "source": "partner"})),
            ("c", at("2026-03-20T04:00:00Z"), "EARN_CYBER_TOKENS", json!({"amount": 9, "source": "app"})),
        ];
        let as_of = day_number("2026-03-31");
        let got = rfm_of(&events, as_of, 30).await;
        let a = Rfm { recency_days: 0, frequency: 2, monetary: 10, partner_visits: 1, partner_tokens: 0 };
        let b = Rfm { recency_days: 40, ..Rfm::default() };
        let c = Rfm { recency_days: 11, frequency: 2, monetary: 0, partner_visits: 0, partner_tokens: 7 };
        assert_eq!(got, BTreeMap::from([("a".into(), a), ("b".into(), b), ("c".into(), c)]));
        assert_eq!(got, model(&events, as_of, 30));

        // A backfill as of 03-15 sees only what had happened by then, as the batch did then.
        let earlier = rfm_of(&events, day_number("2026-03-15"), 30).await;
        assert_eq!(earlier["a"], Rfm { recency_days: 13, frequency: 2, monetary: 11, ..Rfm::default() });
        assert!(!earlier.contains_key("c"), "c had not appeared yet");
        assert_eq!(earlier, model(&events, day_number("2026-03-15"), 30));
    }

    #[tokio::test]
    async fn an_empty_lake_has_no_users() {
        assert!(rfm_of(&[], day_number("2026-03-31"), 30).await.is_empty());
    }

    const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];
    const KINDS: [&str; 5] =
        ["SPEND_CYBER_TOKENS", "EARN_CYBER_TOKENS", "PARTNER_VISIT", "GAME_PLAY", "SESSION_START"];

    fn random_event() -> impl Strategy<Value = Ev> {
        (0..4usize, 0..(60 * 24i64), 0..5usize, 1..500i64, any::<bool>()).prop_map(
            |(u, hour, k, amount, partner)| {
                let ts = at("2026-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(hour);
                let props = json!({"amount": amount, "source": if partner { "partner" } else { "app" }});
                (USERS[u], ts, KINDS[k], props)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sql_agrees_with_the_definition(
            events in prop::collection::vec(random_event(), 0..120),
            as_of_offset in 0..70i32,
            window in prop::sample::select(vec![1u32, 7, 30]),
        ) {
            let as_of = day_number("2026-01-01") + as_of_offset;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let got = runtime.block_on(rfm_of(&events, as_of, window));
            prop_assert_eq!(got, model(&events, as_of, window));
        }
    }
}
