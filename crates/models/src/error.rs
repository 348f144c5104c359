//! Why a model could not be trained or used.

use crate::table::TableError;

/// Why a model could not be trained or used.
#[derive(Debug)]
pub enum ModelError {
    Table(TableError),
    /// Training or calibration rows of one outcome only, or none.
    OneClass(&'static str),
    /// No rows to learn from.
    Empty(&'static str),
    Booster(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Table(e) => e.fmt(f),
            ModelError::OneClass(set) => write!(f, "the {set} rows hold churners only or none"),
            ModelError::Empty(set) => write!(f, "no {set} rows"),
            ModelError::Booster(e) => write!(f, "gradient boosting failed: {e}"),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<TableError> for ModelError {
    fn from(e: TableError) -> Self {
        ModelError::Table(e)
    }
}
