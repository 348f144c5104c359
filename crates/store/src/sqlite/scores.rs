//! The models' scores on SQLite: a night's scores are one write of the one writer.

use async_trait::async_trait;
use playpulse_core::ids::UserId;
use rusqlite::{Connection, params};

use super::{SqliteStore, all, exec, first};
use crate::scores::{DROP_OLDER, NEWER_SCORES, USER_SCORES, newer_score_stays};
use crate::{ScoreNight, Scores, StoreError, StoredScore};

const INSERT: &str = concat!(
    "INSERT INTO user_scores (user_id, model, version, as_of, score, reasons) VALUES ($1, $2, $3, $4, $5, $6) ",
    newer_score_stays!()
);

fn save(conn: &Connection, night: &ScoreNight) -> Result<bool, StoreError> {
    if first::<i64>(conn, NEWER_SCORES, params![night.model, night.as_of])? != Some(0) {
        return Ok(false);
    }
    let mut insert = conn.prepare_cached(INSERT)?;
    for (user, score, reasons) in &night.scores {
        insert.execute(params![
            user.as_str(),
            night.model,
            night.version,
            night.as_of,
            score,
            reasons.to_string()
        ])?;
    }
    exec(conn, DROP_OLDER, params![night.model, night.as_of])?;
    Ok(true)
}

#[async_trait]
impl Scores for SqliteStore {
    async fn save_scores(&self, night: ScoreNight) -> Result<bool, StoreError> {
        self.writer.write(move |conn| save(conn, &night)).await
    }

    async fn scores(&self, user: &UserId) -> Result<Vec<StoredScore>, StoreError> {
        let user = user.as_str().to_owned();
        self.readers.read(move |conn| all(conn, USER_SCORES, [user])).await
    }
}
