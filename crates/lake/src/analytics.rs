//! The analytics engine: DataFusion in-process over the event lake. Every query is SQL text
//! in `crates/lake/sql/`, one file per metric, in standard SQL that a distributed engine
//! (Spark, Ballista) runs unchanged over the same Parquet files.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{SessionConfig, SessionContext};
use playpulse_core::event::EventType;
use playpulse_core::segments::{Monetary, Rfm};

use crate::LakeError;
use crate::events::{EventLake, event_schema};

/// The RFM query (see the file for its parameters).
pub const RFM_SQL: &str = include_str!("../sql/rfm.sql");
/// Events per user and business hour.
pub const HOURS_SQL: &str = include_str!("../sql/hours.sql");
/// Impressions and conversions per proposal id.
pub const PROPOSAL_OUTCOMES_SQL: &str = include_str!("../sql/proposal_outcomes.sql");

/// Fills the window parameters every query takes.
fn windowed(sql: &str, as_of_day: i32, window_days: u32) -> String {
    sql.replace("{as_of_day}", &as_of_day.to_string()).replace("{window_days}", &window_days.to_string())
}

/// The schema with text columns read as string views: no copy on read, and faster grouping
/// and comparison (measured: the RFM benchmark runs ~25% faster).
fn view_types(schema: &arrow_schema::Schema) -> arrow_schema::SchemaRef {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type() == &arrow_schema::DataType::Utf8 {
                f.as_ref().clone().with_data_type(arrow_schema::DataType::Utf8View)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(arrow_schema::Schema::new(fields))
}

/// The engine's settings: `DATAFUSION_*` environment variables (e.g.
/// `DATAFUSION_EXECUTION_TARGET_PARTITIONS`) win; otherwise two partitions per core, so
/// decoding and aggregating overlap, and batches of 32 Ki rows (both measured on the RFM
/// benchmark: ~15% faster than DataFusion's defaults on two cores).
fn session_config() -> Result<SessionConfig, LakeError> {
    let mut config = SessionConfig::from_env()?;
    let set = |name: &str| std::env::var_os(name).is_some();
    if !set("DATAFUSION_EXECUTION_TARGET_PARTITIONS") {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        config = config.with_target_partitions(2 * cores);
    }
    if !set("DATAFUSION_EXECUTION_BATCH_SIZE") {
        config = config.with_batch_size(32 * 1024);
    }
    Ok(config)
}

/// A text column of a result as plain strings, whichever string layout the engine chose.
fn strings(batch: &RecordBatch, name: &'static str) -> Result<StringArray, LakeError> {
    let column = batch.column_by_name(name).ok_or(LakeError::Column(name))?;
    let text = datafusion::arrow::compute::cast(column, &arrow_schema::DataType::Utf8)?;
    text.as_any().downcast_ref::<StringArray>().cloned().ok_or(LakeError::Column(name))
}

fn ints<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a Int64Array, LakeError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or(LakeError::Column(name))
}

/// An engine session with the lake's tables registered.
pub struct Analytics {
    ctx: SessionContext,
}

impl Analytics {
    /// Registers `events` over the lake's committed files (as its manifests name them, so a
    /// file being written or merged right now is never read twice or half).
    pub async fn open(lake_root: &Path) -> Result<Self, LakeError> {
        let ctx = SessionContext::new_with_config(session_config()?);
        let schema = view_types(&event_schema());
        let files = EventLake::live_files(lake_root)?;
        if files.is_empty() {
            ctx.register_table("events", Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
            return Ok(Self { ctx });
        }
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(f.to_string_lossy()))
            .collect::<Result<Vec<_>, _>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config =
            ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
        ctx.register_table("events", Arc::new(ListingTable::try_new(config)?))?;
        Ok(Self { ctx })
    }

    async fn run(&self, sql: &str) -> Result<Vec<RecordBatch>, LakeError> {
        Ok(self.ctx.sql(sql).await?.collect().await?)
    }

    /// Each user's events per business hour (00–23) inside the window.
    pub async fn hours(
        &self,
        as_of_day: i32,
        window_days: u32,
    ) -> Result<Vec<(String, [i64; 24])>, LakeError> {
        let mut by_user: std::collections::BTreeMap<String, [i64; 24]> = Default::default();
        for batch in self.run(&windowed(HOURS_SQL, as_of_day, window_days)).await? {
            let users = &strings(&batch, "user_id")?;
            let hours = batch
                .column_by_name("business_hour")
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::Int32Array>())
                .ok_or(LakeError::Column("business_hour"))?;
            let events = ints(&batch, "events")?;
            for i in 0..batch.num_rows() {
                let hour = usize::try_from(hours.value(i)).ok().filter(|h| *h < 24);
                let hour = hour.ok_or_else(|| LakeError::Row(format!("business hour {}", hours.value(i))))?;
                by_user.entry(users.value(i).to_owned()).or_insert([0; 24])[hour] += events.value(i);
            }
        }
        Ok(by_user.into_iter().collect())
    }

    /// (proposal id, impressions, conversions) of every proposal shown or converted inside
    /// the window.
    pub async fn proposal_outcomes(
        &self,
        as_of_day: i32,
        window_days: u32,
    ) -> Result<Vec<(String, i64, i64)>, LakeError> {
        let mut out = Vec::new();
        for batch in self.run(&windowed(PROPOSAL_OUTCOMES_SQL, as_of_day, window_days)).await? {
            let (ids, shown, converted) = (
                &strings(&batch, "proposal_id")?,
                ints(&batch, "impressions")?,
                ints(&batch, "conversions")?,
            );
            out.extend(
                (0..batch.num_rows()).map(|i| (ids.value(i).to_owned(), shown.value(i), converted.value(i))),
            );
        }
        Ok(out)
    }

    /// Every user with an event at or before the query's as-of day, with their figures.
    pub async fn rfm(&self, query: &RfmQuery<'_>) -> Result<Vec<UserFigures>, LakeError> {
        let mut out = Vec::new();
        for batch in self.run(&query.sql()?).await? {
            let users = &strings(&batch, "user_id")?;
            let int = |name: &'static str| ints(&batch, name);
            let [r, f, spent, paid, pv, pt, balance] = [
                "recency_days",
                "frequency",
                "tokens_spent",
                "paid_spend",
                "partner_visits",
                "partner_tokens",
                "balance",
            ]
            .map(int);
            let (r, f, spent, paid, pv, pt, balance) = (r?, f?, spent?, paid?, pv?, pt?, balance?);
            let monetary = match query.monetary {
                Monetary::TokensSpent => spent,
                Monetary::PaidSpend => paid,
                Monetary::PartnerEarnings => pt,
            };
            for i in (0..batch.num_rows()).filter(|&i| !users.is_null(i)) {
                out.push(UserFigures {
                    user_id: users.value(i).to_owned(),
                    rfm: Rfm {
                        recency_days: r.value(i),
                        frequency: f.value(i),
                        monetary: monetary.value(i),
                        partner_visits: pv.value(i),
                        partner_tokens: pt.value(i),
                    },
                    balance: balance.value(i),
                });
            }
        }
        Ok(out)
    }
}

/// What the RFM batch asks: the as-of day, the window, which events F counts and what M
/// measures.
#[derive(Debug, Clone, Copy)]
pub struct RfmQuery<'a> {
    /// The as-of business day, as days since 1970-01-01.
    pub as_of_day: i32,
    pub window_days: u32,
    /// Event types F counts; empty counts every event.
    pub frequency_types: &'a [String],
    pub monetary: Monetary,
}

impl RfmQuery<'_> {
    /// The seed's definition: every event counts for F, M is tokens spent.
    pub fn seed(as_of_day: i32, window_days: u32) -> RfmQuery<'static> {
        RfmQuery { as_of_day, window_days, frequency_types: &[], monetary: Monetary::TokensSpent }
    }

    /// [`RFM_SQL`] with its parameters filled in. Type names are checked against the event
    /// type grammar (upper snake case), so they are safe inside quotes.
    fn sql(&self) -> Result<String, LakeError> {
        let filter = if self.frequency_types.is_empty() {
            "TRUE".to_owned()
        } else {
            let mut quoted = Vec::with_capacity(self.frequency_types.len());
            for name in self.frequency_types {
                if EventType::parse(name).is_none() {
                    return Err(LakeError::Row(format!("{name:?} is not an event type name")));
                }
                quoted.push(format!("'{name}'"));
            }
            format!("type IN ({})", quoted.join(", "))
        };
        Ok(windowed(RFM_SQL, self.as_of_day, self.window_days).replace("{frequency_filter}", &filter))
    }
}

/// One user's figures from the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFigures {
    pub user_id: String,
    pub rfm: Rfm,
    /// The balance at the end of the as-of day: every ledger movement up to it.
    pub balance: i64,
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
        playpulse_core::time::epoch_day(date.parse().unwrap())
    }

    /// (figures, balance) per user.
    type Figures = BTreeMap<String, (Rfm, i64)>;

    async fn rfm_of(events: &[Ev], query: &RfmQuery<'_>) -> Figures {
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
        let figures = analytics.rfm(query).await.unwrap();
        figures.into_iter().map(|f| (f.user_id, (f.rfm, f.balance))).collect()
    }

    async fn seed_rfm_of(events: &[Ev], as_of: i32, window: u32) -> Figures {
        rfm_of(events, &RfmQuery::seed(as_of, window)).await
    }

    /// The definition, directly: what the SQL must agree with.
    fn model(events: &[Ev], query: &RfmQuery<'_>) -> Figures {
        let zone = BusinessZone::default();
        let (as_of, window) = (query.as_of_day, query.window_days as i32);
        let mut out: BTreeMap<String, (i32, Rfm, i64)> = BTreeMap::new();
        for (user, ts, kind, props) in events {
            let day = playpulse_core::time::epoch_day(zone.day_of(*ts));
            if day > as_of {
                continue;
            }
            let (last, rfm, balance) = out.entry((*user).to_owned()).or_insert((i32::MIN, Rfm::default(), 0));
            *last = (*last).max(day);
            let amount = props["amount"].as_i64().unwrap_or(0);
            let partner = props["source"] == "partner";
            *balance += match *kind {
                "EARN_CYBER_TOKENS" => amount,
                "PURCHASE_TOKENS" => props["tokens"].as_i64().unwrap(),
                "SPEND_CYBER_TOKENS" => -amount,
                _ => 0,
            };
            if day <= as_of - window {
                continue;
            }
            if query.frequency_types.is_empty() || query.frequency_types.iter().any(|t| t == kind) {
                rfm.frequency += 1;
            }
            let paid = props["paid"] == true;
            rfm.monetary += match (*kind, query.monetary) {
                ("SPEND_CYBER_TOKENS", Monetary::TokensSpent) => amount,
                ("SPEND_CYBER_TOKENS", Monetary::PaidSpend) if paid => amount,
                ("EARN_CYBER_TOKENS", Monetary::PartnerEarnings) if partner => amount,
                _ => 0,
            };
            match *kind {
                "PARTNER_VISIT" => rfm.partner_visits += 1,
                "EARN_CYBER_TOKENS" if partner => rfm.partner_tokens += amount,
                _ => {}
            }
        }
        out.into_iter()
            .map(|(user, (last, mut rfm, balance))| {
                rfm.recency_days = i64::from(as_of - last);
                (user, (rfm, balance))
            })
            .collect()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn window_edges_follow_seoul_midnight() {
        let spend = |n: i64| json!({"amount": n, "sink": "game"});
        let earn = |n: i64, source: &str| json!({"amount": n, "source": source});
        let events: Vec<Ev> = vec![
            ("a", at("2026-02-01T03:00:00Z"), "EARN_CYBER_TOKENS", earn(500, "app")),
            // 23:59:59 in Seoul on 03-01: the day before the window of 03-31.
            ("a", at("2026-03-01T14:59:59Z"), "SPEND_CYBER_TOKENS", spend(1)),
            // 00:00:00 in Seoul on 03-02: the window's first day.
            ("a", at("2026-03-01T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(10)),
            // 23:59:59 in Seoul on 03-31: the as-of day itself.
            ("a", at("2026-03-31T14:59:59Z"), "PARTNER_VISIT", json!({"dwell_s": 5, "actions": 1})),
            // 04-01 in Seoul: after the as-of day, unseen.
            ("a", at("2026-03-31T15:00:00Z"), "SPEND_CYBER_TOKENS", spend(100)),
            // Last seen 40 days before: recency 40, nothing in the window.
            ("b", at("2026-02-19T03:00:00Z"), "EARN_CYBER_TOKENS", earn(5, "partner")),
            ("c", at("2026-03-20T03:00:00Z"), "EARN_CYBER_TOKENS", earn(7, "partner")),
            ("c", at("2026-03-20T04:00:00Z"), "EARN_CYBER_TOKENS", earn(9, "app")),
            (
                "c",
                at("2026-03-21T04:00:00Z"),
                "PURCHASE_TOKENS",
                json!({"tokens": 1000, "cash_amount": 9900}),
            ),
            ("c", at("2026-03-21T05:00:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 300, "paid": true})),
        ];
        let as_of = day_number("2026-03-31");
        let got = seed_rfm_of(&events, as_of, 30).await;
        let a = Rfm { recency_days: 0, frequency: 2, monetary: 10, partner_visits: 1, partner_tokens: 0 };
        let b = Rfm { recency_days: 40, ..Rfm::default() };
        let c = Rfm { recency_days: 10, frequency: 4, monetary: 300, partner_visits: 0, partner_tokens: 7 };
        let expected = BTreeMap::from([("a".into(), (a, 489)), ("b".into(), (b, 5)), ("c".into(), (c, 716))]);
        assert_eq!(got, expected);
        assert_eq!(got, model(&events, &RfmQuery::seed(as_of, 30)));

        // A backfill as of 03-15 sees only what had happened by then, balance included.
        let earlier = seed_rfm_of(&events, day_number("2026-03-15"), 30).await;
        assert_eq!(
            earlier["a"],
            (Rfm { recency_days: 13, frequency: 2, monetary: 11, ..Rfm::default() }, 489)
        );
        assert!(!earlier.contains_key("c"), "c had not appeared yet");
        assert_eq!(earlier, model(&events, &RfmQuery::seed(day_number("2026-03-15"), 30)));
    }

    #[tokio::test]
    async fn frequency_types_and_the_monetary_measure_follow_the_query() {
        let events: Vec<Ev> = vec![
            ("a", at("2026-03-30T03:00:00Z"), "SESSION_START", json!({})),
            ("a", at("2026-03-30T03:01:00Z"), "GAME_PLAY", json!({"game": "slot", "bet": 5})),
            (
                "a",
                at("2026-03-30T03:02:00Z"),
                "EARN_CYBER_TOKENS",
                json!({"amount": 70, "source": "partner"}),
            ),
            ("a", at("2026-03-30T03:03:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 20, "paid": false})),
            ("a", at("2026-03-30T03:04:00Z"), "SPEND_CYBER_TOKENS", json!({"amount": 30, "paid": true})),
        ];
        let as_of = day_number("2026-03-31");
        let types = ["GAME_PLAY".to_owned(), "SPEND_CYBER_TOKENS".to_owned()];
        for (monetary, m) in
            [(Monetary::TokensSpent, 50), (Monetary::PaidSpend, 30), (Monetary::PartnerEarnings, 70)]
        {
            let query = RfmQuery { as_of_day: as_of, window_days: 30, frequency_types: &types, monetary };
            let got = rfm_of(&events, &query).await;
            let (rfm, balance) = got["a"];
            assert_eq!((rfm.frequency, rfm.monetary, balance), (3, m, 20), "{monetary:?}");
            assert_eq!(got, model(&events, &query));
        }
        let bad = ["GAME_PLAY'); DROP TABLE events; --".to_owned()];
        let query = RfmQuery { frequency_types: &bad, ..RfmQuery::seed(as_of, 30) };
        let empty = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(empty.path()).await.unwrap();
        assert!(analytics.rfm(&query).await.is_err(), "a malformed type name never reaches the SQL");
    }

    #[tokio::test]
    async fn hours_and_proposal_outcomes_count_inside_the_window() {
        let shown = |id: &str| json!({"proposal_id": id});
        let events: Vec<Ev> = vec![
            ("a", at("2026-03-31T12:30:00Z"), "SESSION_START", json!({})), // 21:30 in Seoul
            ("a", at("2026-03-30T12:10:00Z"), "GAME_PLAY", json!({"game": "slot"})), // 21:10
            ("a", at("2026-03-30T00:10:00Z"), "GAME_PLAY", json!({"game": "slot"})), // 09:10
            ("a", at("2026-02-01T12:10:00Z"), "GAME_PLAY", json!({"game": "slot"})), // outside
            ("a", at("2026-03-30T00:11:00Z"), "PROPOSAL_IMPRESSION", shown("p1")),
            ("a", at("2026-03-30T00:12:00Z"), "PROPOSAL_CONVERSION", shown("p1")),
            ("b", at("2026-03-30T00:13:00Z"), "PROPOSAL_IMPRESSION", shown("p2")),
        ];
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
        lake.commit(&rows, json!({})).unwrap();
        let analytics = Analytics::open(dir.path()).await.unwrap();
        let as_of = day_number("2026-03-31");
        let hours: BTreeMap<String, [i64; 24]> =
            analytics.hours(as_of, 30).await.unwrap().into_iter().collect();
        let a = hours["a"];
        assert_eq!((a[21], a[9], a.iter().sum::<i64>()), (2, 3, 5), "{a:?}");
        assert_eq!(hours["b"][9], 1);
        let mut outcomes = analytics.proposal_outcomes(as_of, 30).await.unwrap();
        outcomes.sort();
        assert_eq!(outcomes, [("p1".to_owned(), 1, 1), ("p2".to_owned(), 1, 0)]);
    }

    #[tokio::test]
    async fn an_empty_lake_has_no_users() {
        assert!(seed_rfm_of(&[], day_number("2026-03-31"), 30).await.is_empty());
    }

    const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];
    const KINDS: [&str; 6] = [
        "SPEND_CYBER_TOKENS",
        "EARN_CYBER_TOKENS",
        "PURCHASE_TOKENS",
        "PARTNER_VISIT",
        "GAME_PLAY",
        "SESSION_START",
    ];

    fn random_event() -> impl Strategy<Value = Ev> {
        (0..4usize, 0..(60 * 24i64), 0..6usize, 1..500i64, any::<bool>(), any::<bool>()).prop_map(
            |(u, hour, k, amount, partner, paid)| {
                let ts = at("2026-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(hour);
                let source = if partner { "partner" } else { "app" };
                let props = json!({"amount": amount, "tokens": amount * 10, "source": source, "paid": paid});
                (USERS[u], ts, KINDS[k], props)
            },
        )
    }

    fn random_query() -> impl Strategy<Value = (Vec<String>, Monetary)> {
        (
            prop::sample::subsequence(KINDS.to_vec(), 0..3),
            prop::sample::select(vec![Monetary::TokensSpent, Monetary::PaidSpend, Monetary::PartnerEarnings]),
        )
            .prop_map(|(types, m)| (types.into_iter().map(str::to_owned).collect(), m))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sql_agrees_with_the_definition(
            events in prop::collection::vec(random_event(), 0..120),
            as_of_offset in 0..70i32,
            window in prop::sample::select(vec![1u32, 7, 30]),
            (types, monetary) in random_query(),
        ) {
            let query = RfmQuery {
                as_of_day: day_number("2026-01-01") + as_of_offset,
                window_days: window,
                frequency_types: &types,
                monetary,
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let got = runtime.block_on(rfm_of(&events, &query));
            prop_assert_eq!(got, model(&events, &query));
        }
    }
}
