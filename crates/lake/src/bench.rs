//! A synthetic lake for benchmarks: many users and events, written straight as Parquet in
//! the lake's schema, far faster than simulating and exporting them.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    Date32Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, new_null_array};
use parquet::arrow::ArrowWriter;
use playpulse_core::time::BusinessZone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::LakeError;
use crate::events::{EventLake, event_schema};

/// The reference query over the raw events: RFM as it was before the rollups, which DuckDB
/// runs over the same files in `bench/rfm.py` and `bench/analytics.py`.
const RFM_EVENTS_SQL: &str = include_str!("../../../bench/rfm_events.sql");

/// Runs [`RFM_EVENTS_SQL`] over the lake's events; returns the users and a checksum of R, F,
/// M and balance that DuckDB's run must match.
pub async fn rfm_over_events(
    root: &Path,
    as_of_day: i32,
    window_days: u32,
) -> Result<(usize, i64), LakeError> {
    let analytics = crate::analytics::Analytics::open_events(root).await?;
    let sql = RFM_EVENTS_SQL
        .replace("{as_of_day}", &as_of_day.to_string())
        .replace("{window_days}", &window_days.to_string())
        .replace("{frequency_filter}", "TRUE");
    let (mut users, mut checksum) = (0, 0);
    for batch in analytics.query(&sql).await? {
        let column = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<arrow_array::Int64Array>()
                .cloned()
                .ok_or(LakeError::Column("rfm"))
        };
        let (r, f, m, balance) = (column(1)?, column(2)?, column(3)?, column(7)?);
        users += batch.num_rows();
        checksum += (0..batch.num_rows())
            .map(|i| r.value(i) + f.value(i) + m.value(i) + balance.value(i))
            .sum::<i64>();
    }
    Ok((users, checksum))
}

/// Rows per record batch of the generator.
const ROWS_PER_BATCH: usize = 1 << 20;
const TYPES: [&str; 5] =
    ["GAME_PLAY", "SPEND_CYBER_TOKENS", "EARN_CYBER_TOKENS", "SESSION_START", "PARTNER_VISIT"];

/// Writes `events` events of `users` users, spread evenly over `days` business days ending
/// on `last_day` (days since 1970-01-01), one file per day; returns the rows written.
pub fn generate(
    root: &Path,
    users: u32,
    events: u64,
    days: u32,
    last_day: i32,
    seed: u64,
) -> Result<u64, LakeError> {
    let per_day = events / u64::from(days.max(1));
    let mut lake = EventLake::open(root, BusinessZone::default())?;
    let mut files = Vec::new();
    let mut written = 0;
    for d in 0..days {
        let day = last_day - i32::try_from(days - 1 - d).unwrap_or(0);
        let date = playpulse_core::time::add_days(playpulse_core::time::EPOCH_DAY, i64::from(day))
            .ok_or_else(|| LakeError::Row(format!("day {day} is out of range")))?;
        let relative = format!("date={date}/part-bench.parquet");
        let path = root.join("events").join(&relative);
        fs::create_dir_all(path.parent().expect("a partition file has a folder"))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let mut writer = ArrowWriter::try_new(fs::File::create(&path)?, event_schema(), Some(props))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(d));
        let mut left = per_day;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(ROWS_PER_BATCH);
            writer.write(&day_batch(&mut rng, n, users, day, written)?)?;
            left -= n as u64;
            written += n as u64;
        }
        writer.close()?;
        files.push(relative);
    }
    lake.commit_files(files, written)?;
    Ok(written)
}

fn day_batch(
    rng: &mut ChaCha8Rng,
    n: usize,
    users: u32,
    day: i32,
    first_seq: u64,
) -> Result<RecordBatch, LakeError> {
    let schema = event_schema();
    let mut seq = Int64Builder::with_capacity(n);
    let mut ids = StringBuilder::with_capacity(n, n * 12);
    let mut user_ids = StringBuilder::with_capacity(n, n * 8);
    let mut types = StringBuilder::with_capacity(n, n * 12);
    let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut dates, mut days, mut hours) =
        (Date32Builder::with_capacity(n), Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
    let mut amount = Int64Builder::with_capacity(n);
    let mut source = StringBuilder::with_capacity(n, n * 4);
    let mut raw = StringBuilder::with_capacity(n, n * 2);
    let day_ms = i64::from(day) * 86_400_000 - 9 * 3_600_000; // midnight in Seoul
    for i in 0..n {
        // Activity is skewed: a quarter of the users make most of the events.
        let user = if rng.random_bool(0.7) {
            rng.random_range(0..users.div_ceil(4))
        } else {
            rng.random_range(0..users)
        };
        let kind = TYPES[rng.random_range(0..TYPES.len())];
        let hour = rng.random_range(0..24);
        seq.append_value(i64::try_from(first_seq + i as u64).unwrap_or(i64::MAX));
        ids.append_value(format!("{:x}", first_seq + i as u64));
        user_ids.append_value(format!("u{user:07}"));
        types.append_value(kind);
        ts.append_value(day_ms + i64::from(hour) * 3_600_000);
        dates.append_value(day);
        days.append_value(day);
        hours.append_value(hour);
        match kind {
            "SPEND_CYBER_TOKENS" | "EARN_CYBER_TOKENS" => amount.append_value(rng.random_range(1..500)),
            _ => amount.append_null(),
        }
        source.append_option(
            (kind == "EARN_CYBER_TOKENS").then(|| if rng.random_bool(0.3) { "partner" } else { "app" }),
        );
        raw.append_value("{}");
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column: ArrayRef = match field.name().as_str() {
            "seq" => Arc::new(seq.finish()),
            "event_id" => Arc::new(ids.finish()),
            "user_id" => Arc::new(user_ids.finish()),
            "type" => Arc::new(types.finish()),
            "ts" => Arc::new(ts.finish()),
            "business_date" => Arc::new(dates.finish()),
            "business_day" => Arc::new(days.finish()),
            "business_hour" => Arc::new(hours.finish()),
            "amount" => Arc::new(amount.finish()),
            "source" => Arc::new(source.finish()),
            "props" => Arc::new(raw.finish()),
            _ => new_null_array(field.data_type(), n),
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}
