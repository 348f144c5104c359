//! Notification triggers against their holdouts (`sql/kpi/trigger_effects.sql`): what the
//! users exposed to each trigger did over a window of business days, per group, from the
//! daily rollups. The statistics over these sums are [`playpulse_core::notify::effects`].

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use datafusion::arrow::compute::cast;
use playpulse_core::notify::effects::GroupSums;

use crate::LakeError;
use crate::analytics::{Analytics, strings};

const TRIGGER_EFFECTS_SQL: &str = include_str!("../sql/kpi/trigger_effects.sql");

/// A user's first notification of a trigger: its business day (days since 1970-01-01), and
/// whether they were held out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    pub kind: String,
    pub user_id: String,
    pub day: i32,
    pub held_out: bool,
}

/// One trigger's groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Groups {
    pub treated: GroupSums,
    pub holdout: GroupSums,
}

impl Analytics {
    /// Per trigger, the sums of its treated and held-out users over `window` business days
    /// from their exposure's (see the SQL file).
    pub async fn trigger_effects(
        &self,
        exposed: &[Exposed],
        window: u32,
    ) -> Result<BTreeMap<String, Groups>, LakeError> {
        let mut out: BTreeMap<String, Groups> = BTreeMap::new();
        if exposed.is_empty() {
            return Ok(out);
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("kind", DataType::Utf8, false),
            Field::new("user_id", DataType::Utf8, false),
            Field::new("day", DataType::Int32, false),
            Field::new("held_out", DataType::Boolean, false),
        ]));
        let rows = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(exposed.iter().map(|e| e.kind.as_str()))),
                Arc::new(StringArray::from_iter_values(exposed.iter().map(|e| e.user_id.as_str()))),
                Arc::new(Int32Array::from_iter_values(exposed.iter().map(|e| e.day))),
                Arc::new(BooleanArray::from_iter(exposed.iter().map(|e| Some(e.held_out)))),
            ],
        )?;
        let table = self.register_rows(schema, vec![rows])?;
        let sql =
            TRIGGER_EFFECTS_SQL.replace("{exposures}", table.name()).replace("{window}", &window.to_string());
        for batch in self.query(&sql).await? {
            let kinds = strings(&batch, "kind")?;
            let held = column(&batch, "held_out", &DataType::Boolean)?;
            let held = held.as_any().downcast_ref::<BooleanArray>().ok_or(LakeError::Column("held_out"))?;
            let count = |name: &'static str| -> Result<Int64Array, LakeError> {
                let ints = column(&batch, name, &DataType::Int64)?;
                ints.as_any().downcast_ref::<Int64Array>().cloned().ok_or(LakeError::Column(name))
            };
            let sum = |name: &'static str| -> Result<Float64Array, LakeError> {
                let floats = column(&batch, name, &DataType::Float64)?;
                floats.as_any().downcast_ref::<Float64Array>().cloned().ok_or(LakeError::Column(name))
            };
            let (users, returned) = (count("users")?, count("returned")?);
            let (spent, squares) = (sum("spent")?, sum("spent_squares")?);
            for i in 0..batch.num_rows() {
                let groups = out.entry(kinds.value(i).to_owned()).or_default();
                let group = if held.value(i) { &mut groups.holdout } else { &mut groups.treated };
                *group = GroupSums {
                    users: u64::try_from(users.value(i)).unwrap_or(0),
                    spent: spent.value(i),
                    spent_squares: squares.value(i),
                    returned: u64::try_from(returned.value(i)).unwrap_or(0),
                };
            }
        }
        Ok(out)
    }
}

/// Column `name` of `batch`, cast to `to`.
fn column(batch: &RecordBatch, name: &'static str, to: &DataType) -> Result<Arc<dyn Array>, LakeError> {
    Ok(cast(batch.column_by_name(name).ok_or(LakeError::Column(name))?, to)?)
}
