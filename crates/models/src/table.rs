//! The models' input: named feature columns, one value per row, NaN where missing.

use serde::{Deserialize, Serialize};

/// Feature columns of equal length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Vec<f64>>,
}

/// Why a table cannot feed a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// The model was trained with a feature the table lacks.
    Missing(String),
    /// Columns of different lengths, or names and columns that do not pair up.
    Ragged,
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Missing(name) => write!(f, "the feature {name} is missing"),
            TableError::Ragged => f.write_str("feature columns of different lengths"),
        }
    }
}

impl std::error::Error for TableError {}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The columns named `names`, in that order, end to end (column-major).
    pub fn column_major(&self, names: &[String]) -> Result<Vec<f64>, TableError> {
        if self.names.len() != self.columns.len() || self.columns.iter().any(|c| c.len() != self.rows()) {
            return Err(TableError::Ragged);
        }
        let mut data = Vec::with_capacity(names.len() * self.rows());
        for name in names {
            let at =
                self.names.iter().position(|n| n == name).ok_or_else(|| TableError::Missing(name.clone()))?;
            data.extend_from_slice(&self.columns[at]);
        }
        Ok(data)
    }

    /// This table's rows followed by `other`'s (same names in the same order).
    pub fn append(&mut self, other: &Table) -> Result<(), TableError> {
        if self.names.is_empty() {
            *self = other.clone();
            return Ok(());
        }
        if self.names != other.names {
            return Err(TableError::Ragged);
        }
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            mine.extend_from_slice(theirs);
        }
        Ok(())
    }
}
