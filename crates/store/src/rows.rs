//! Row mapping shared by both backends. A row of either driver is read through [`Cells`];
//! every stored record is built from its columns in one place ([`FromCells`]), so a column
//! added to a query is mapped once, not once per backend.
//!
//! The schemas agree on column types so that one Rust type reads both: dates are `DATE` on
//! PostgreSQL and ISO text on SQLite (both read as `jiff::civil::Date`), JSON is `JSONB` or
//! text (both read as `serde_json::Value`), event ids `UUID` or a 16-byte blob.

use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_core::ids::UserId;

use crate::StoreError;

/// A value both drivers can read from a column.
pub(crate) trait Cell: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

impl<T> Cell for T where T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

/// A result row of either backend.
pub(crate) trait Cells {
    /// The column at `at`, as `T`.
    fn get<T: Cell>(&self, at: usize) -> Result<T, StoreError>;
}

impl Cells for rusqlite::Row<'_> {
    fn get<T: Cell>(&self, at: usize) -> Result<T, StoreError> {
        Ok(rusqlite::Row::get(self, at)?)
    }
}

impl Cells for tokio_postgres::Row {
    fn get<T: Cell>(&self, at: usize) -> Result<T, StoreError> {
        Ok(self.try_get(at)?)
    }
}

/// A record read from consecutive columns of a row.
pub(crate) trait FromCells: Sized {
    /// How many columns it reads.
    const WIDTH: usize;
    /// Reads the record from the columns starting at `at`.
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError>;
}

macro_rules! scalar_cells {
    ($($t:ty),*) => {$(
        impl FromCells for $t {
            const WIDTH: usize = 1;
            fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
                row.get(at)
            }
        }
    )*};
}

scalar_cells!(i32, i64, String, serde_json::Value);

impl<A: FromCells, B: FromCells> FromCells for (A, B) {
    const WIDTH: usize = A::WIDTH + B::WIDTH;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        Ok((A::from_cells(row, at)?, B::from_cells(row, at + A::WIDTH)?))
    }
}

impl FromCells for UserId {
    const WIDTH: usize = 1;
    fn from_cells(row: &impl Cells, at: usize) -> Result<Self, StoreError> {
        let text: String = row.get(at)?;
        UserId::parse(&text).map_err(|_| StoreError::Corrupt(format!("user id {text}")))
    }
}

/// An instant stored as epoch milliseconds.
pub(crate) fn instant(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

/// A value stored as JSON text.
pub(crate) fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{text}: {e}")))
}

/// Plain data as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

/// A required date column that a LEFT JOIN may have left NULL.
pub(crate) fn required(day: Option<Date>, what: &str) -> Result<Date, StoreError> {
    day.ok_or_else(|| StoreError::Corrupt(format!("{what} without a date")))
}

/// The play-day bitmap is stored in a signed 64-bit column, bit for bit.
pub(crate) fn mask_to_db(mask: u64) -> i64 {
    i64::from_ne_bytes(mask.to_ne_bytes())
}

pub(crate) fn mask_from_db(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}
