//! What the rollups are computed with, and their SQL with its parameters filled in.

use playpulse_core::event::EventType;
use serde::{Deserialize, Serialize};

use super::Table;
use crate::LakeError;

/// Settings the rollups depend on; a change re-rolls every day of the tables that use them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The churn window N: churned on day d means active in (d − 2N, d − N] and not in
    /// (d − N, d].
    pub churn_days: u32,
    /// RFM's window W: F and M sum the as-of day and the W − 1 days before it.
    pub window_days: u32,
    /// Event types F counts; empty counts every event.
    pub frequency_types: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { churn_days: 7, window_days: 30, frequency_types: Vec::new() }
    }
}

impl Settings {
    /// Whether rows rolled by `sql` under `before` differ from rows rolled under these.
    pub(super) fn changed_for(&self, before: Option<&Settings>, sql: &str) -> bool {
        let Some(before) = before else { return true };
        (sql.contains("{churn_days}") && self.churn_days != before.churn_days)
            || (sql.contains("{window_days}") && self.window_days != before.window_days)
            || (sql.contains("{frequency}") && self.frequency_types != before.frequency_types)
    }

    /// `sql` with the settings' parameters filled in.
    pub(crate) fn apply(&self, sql: &str) -> Result<String, LakeError> {
        let frequency = if sql.contains("{frequency}") { self.frequency()? } else { String::new() };
        Ok(sql
            .replace("{churn_days}", &self.churn_days.to_string())
            .replace("{window_days}", &self.window_days.to_string())
            .replace("{frequency}", &frequency))
    }

    /// What F counts per user-day, as SQL over `user_days`: `events`, or the sum of the
    /// per-type columns, which exist for the known event types only; any other name is
    /// refused, so nothing but a column name reaches the SQL.
    pub fn frequency(&self) -> Result<String, LakeError> {
        if self.frequency_types.is_empty() {
            return Ok("events".to_owned());
        }
        // A type named twice still counts once.
        let mut columns = std::collections::BTreeSet::new();
        for name in &self.frequency_types {
            match EventType::parse(name) {
                Some(EventType::Custom(_)) | None => {
                    return Err(LakeError::Row(format!(
                        "F can count the known event types only, not {name:?}"
                    )));
                }
                Some(known) => columns.insert(format!("count_{}", known.as_str().to_lowercase())),
            };
        }
        Ok(format!("({})", Vec::from_iter(columns).join(" + ")))
    }
}

/// The SQL of a table for a range of days, with its parameters filled in;
/// `population` restricts the running tables to some users (`TRUE` for all). Tables read
/// from the events roll one day a query: their `{day}` is `from`, which equals `to`.
pub fn fill(
    table: &Table,
    from: i32,
    to: i32,
    settings: &Settings,
    population: &str,
) -> Result<String, LakeError> {
    Ok(settings
        .apply(table.sql)?
        .replace("{day}", &from.to_string())
        .replace("{from}", &from.to_string())
        .replace("{to}", &to.to_string())
        .replace("{population}", population))
}
