//! The models' inputs and outcomes, read from the daily rollups (`sql/model/`): features as
//! of a business day's end, and what followed the day. Point-in-time by construction: the
//! features read only days up to the as-of day, the outcomes only days after it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::LakeError;
use crate::analytics::{Analytics, floats, ints, strings};
use crate::manifest::write_atomically;

/// Features of each user active in the 28 days up to the as-of day (see the file).
pub const FEATURES_SQL: &str = include_str!("../sql/model/features.sql");
/// What followed the as-of day (see the file).
pub const OUTCOMES_SQL: &str = include_str!("../sql/model/labels.sql");
/// Each user's purchase days up to the as-of day (see the file).
pub const PURCHASES_SQL: &str = include_str!("../sql/model/purchases.sql");

/// What a purchase is, for the lifetime-value models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amount {
    /// Tokens spent (`SPEND_CYBER_TOKENS`).
    Spend,
    /// Cash paid for token packages (`PURCHASE_TOKENS`).
    Cash,
}

impl Amount {
    fn column(self) -> &'static str {
        match self {
            Amount::Spend => "spent",
            Amount::Cash => "purchase_cash",
        }
    }
}

/// One user's purchase days up to the as-of day, in days (see `sql/model/purchases.sql`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseDays {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
    /// Mean amount of a repeat purchase day; `None` without one.
    pub repeat_mean: Option<f64>,
    /// The amount over the 30 days up to the as-of day.
    pub last_30d: f64,
}

/// The folder of the feature files under the lake root, and each as-of day's file name.
pub const FEATURES_DIR: &str = "features";
pub const FEATURES_FILE: &str = "features.parquet";

/// One as-of day's features: a column per feature, a row per user, NaN where a feature has no
/// value (no partner visit yet, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Days since 1970-01-01.
    pub as_of: i32,
    pub users: Vec<String>,
    pub names: Vec<String>,
    pub columns: Vec<Vec<f64>>,
}

/// What one user did after the as-of day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Active days among the churn label's days; 0 is a churner.
    pub active_days_next: i64,
    pub spend_next_30d: i64,
    pub spend_next_90d: i64,
    pub cash_next_30d: i64,
    pub cash_next_90d: i64,
}

impl Analytics {
    /// The last business day with events in the lake.
    pub fn last_event_day(&self) -> Option<i32> {
        self.days.get("user_days").and_then(|days| days.last().copied())
    }

    /// The features of every user active in the 28 business days up to `as_of`.
    pub async fn features(&self, as_of: i32) -> Result<Features, LakeError> {
        let (schema, batches) =
            self.query_with_schema(&FEATURES_SQL.replace("{as_of}", &as_of.to_string())).await?;
        let names: Vec<String> = schema.fields().iter().skip(1).map(|f| f.name().clone()).collect();
        let mut features =
            Features { as_of, users: Vec::new(), columns: vec![Vec::new(); names.len()], names };
        for batch in &batches {
            features
                .users
                .extend(strings(batch, "user_id")?.iter().map(|u| u.unwrap_or_default().to_owned()));
            for (c, column) in features.columns.iter_mut().enumerate() {
                let values = batch
                    .column(c + 1)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or(LakeError::Column("feature"))?;
                column.extend(values.iter().map(|v| v.unwrap_or(f64::NAN)));
            }
        }
        Ok(features)
    }

    /// What each user active after `as_of` did in the days that followed; a user absent was
    /// not active at all. `churn_days` is the churn label's horizon.
    pub async fn outcomes(&self, as_of: i32, churn_days: u32) -> Result<HashMap<String, Outcome>, LakeError> {
        let sql = OUTCOMES_SQL
            .replace("{as_of}", &as_of.to_string())
            .replace("{churn_days}", &churn_days.to_string());
        let mut outcomes = HashMap::new();
        for batch in self.query(&sql).await? {
            let users = strings(&batch, "user_id")?;
            let (active, s30, s90, c30, c90) = (
                ints(&batch, "active_days_next")?,
                ints(&batch, "spend_next_30d")?,
                ints(&batch, "spend_next_90d")?,
                ints(&batch, "cash_next_30d")?,
                ints(&batch, "cash_next_90d")?,
            );
            for i in 0..batch.num_rows() {
                outcomes.insert(
                    users.value(i).to_owned(),
                    Outcome {
                        active_days_next: active.value(i),
                        spend_next_30d: s30.value(i),
                        spend_next_90d: s90.value(i),
                        cash_next_30d: c30.value(i),
                        cash_next_90d: c90.value(i),
                    },
                );
            }
        }
        Ok(outcomes)
    }

    /// Every user's purchase days up to `as_of`, by user id; users who never bought are absent.
    pub async fn purchase_days(
        &self,
        as_of: i32,
        amount: Amount,
    ) -> Result<HashMap<String, PurchaseDays>, LakeError> {
        let sql = PURCHASES_SQL.replace("{as_of}", &as_of.to_string()).replace("{amount}", amount.column());
        let mut days = HashMap::new();
        for batch in self.query(&sql).await? {
            let users = strings(&batch, "user_id")?;
            let column = |name| floats(&batch, name);
            let (x, t_x, t, mean, last) =
                (column("x")?, column("t_x")?, column("t")?, column("repeat_mean")?, column("last_30d")?);
            for i in 0..batch.num_rows() {
                let repeat_mean = (!mean.is_null(i)).then(|| mean.value(i));
                let row = PurchaseDays {
                    x: x.value(i),
                    t_x: t_x.value(i),
                    t: t.value(i),
                    repeat_mean,
                    last_30d: last.value(i),
                };
                days.insert(users.value(i).to_owned(), row);
            }
        }
        Ok(days)
    }
}

/// Writes one as-of day's features to `features/as_of=YYYY-MM-DD/features.parquet` under the
/// lake root, replacing an earlier file of the same day whole (a rename), so that they can be
/// inspected and reused. Returns the file's path.
pub fn write_features(lake_root: &Path, features: &Features) -> Result<PathBuf, LakeError> {
    let date = crate::date_of(features.as_of)?;
    let folder = lake_root.join(FEATURES_DIR).join(format!("as_of={date}"));
    fs::create_dir_all(&folder)?;
    let mut fields = vec![Field::new("user_id", DataType::Utf8, false)];
    fields.extend(features.names.iter().map(|n| Field::new(n, DataType::Float64, true)));
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(features.users.clone()))];
    for column in &features.columns {
        let values: Float64Array = column.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
        columns.push(Arc::new(values));
    }
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let path = folder.join(FEATURES_FILE);
    write_atomically(&path, |file| {
        let mut writer = ArrowWriter::try_new(file, schema, None)?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(())
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests;
