//! The `nights` table: each nightly batch's assignments (segment, risk profile, R/F/M), one
//! partition per as-of day, so segment mix, transitions and whale share are SQL over the
//! lake like every other KPI. A night run again replaces its partition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::LakeError;
use crate::rollups::{Settings, TableDir};

/// The table's name in the lake and in SQL.
pub const NIGHTS: &str = "nights";

/// One user's assignment on one night.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightRow {
    pub user_id: String,
    pub segment: String,
    pub risk_profile: Option<String>,
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary: i64,
    /// Tokens spent in the RFM window, whatever M measures.
    pub tokens_spent: i64,
}

pub(crate) fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("business_day", DataType::Int32, false),
        Field::new("segment", DataType::Utf8, false),
        Field::new("risk_profile", DataType::Utf8, true),
        Field::new("recency_days", DataType::Int64, false),
        Field::new("frequency", DataType::Int64, false),
        Field::new("monetary", DataType::Int64, false),
        Field::new("tokens_spent", DataType::Int64, false),
    ]))
}

/// Stores the night of `as_of_day` (days since 1970-01-01), replacing it if it was stored
/// before. The caller holds the lake's writer lock.
pub fn write_night(root: &Path, as_of_day: i32, rows: &[NightRow]) -> Result<(), LakeError> {
    let mut dir = TableDir::open(root, NIGHTS, true)?;
    let n = rows.len();
    let mut users = StringBuilder::with_capacity(n, n * 12);
    let mut days = Int32Builder::with_capacity(n);
    let mut segments = StringBuilder::with_capacity(n, n * 8);
    let mut risks = StringBuilder::with_capacity(n, n * 8);
    let mut ints: [Int64Builder; 4] = std::array::from_fn(|_| Int64Builder::with_capacity(n));
    for row in rows {
        users.append_value(&row.user_id);
        days.append_value(as_of_day);
        segments.append_value(&row.segment);
        risks.append_option(row.risk_profile.as_deref());
        for (builder, value) in
            ints.iter_mut().zip([row.recency_days, row.frequency, row.monetary, row.tokens_spent])
        {
            builder.append_value(value);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(users.finish()),
        Arc::new(days.finish()),
        Arc::new(segments.finish()),
        Arc::new(risks.finish()),
    ];
    columns.extend(ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    if n > 0 {
        dir.write(&[RecordBatch::try_new(schema(), columns)?])?;
    }
    dir.commit(None, &BTreeSet::from([as_of_day]), &BTreeMap::new(), &Settings::default())
}
