//! The models' scores on PostgreSQL: a night's scores are one transaction; rows travel as
//! whole columns through `unnest`.

use async_trait::async_trait;
use playpulse_core::ids::UserId;

use super::{Params, PgStore, all, exec, first};
use crate::scores::{DROP_OLDER, NEWER_SCORES, USER_SCORES, newer_score_stays};
use crate::{ScoreNight, Scores, StoreError, StoredScore};

/// Score nights one at a time (readers go on): the check for a newer night and the drop of
/// older rows must see every other night's writes, which read committed alone does not give
/// (an older night stored at the same moment kept rows of users only it scored).
const ONE_NIGHT_AT_A_TIME: &str = "LOCK TABLE user_scores IN SHARE ROW EXCLUSIVE MODE";

/// Rows sent per statement.
const CHUNK: usize = 5_000;

const INSERT: &str = concat!(
    "INSERT INTO user_scores (user_id, model, version, as_of, score, reasons) SELECT u, $2, $3, $4, s, r \
     FROM unnest($1::text[], $5::float8[], $6::text[]) AS x(u, s, r) ",
    newer_score_stays!()
);

#[async_trait]
impl Scores for PgStore {
    async fn save_scores(&self, night: ScoreNight) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(ONE_NIGHT_AT_A_TIME).await?;
        if first::<i64>(&tx, NEWER_SCORES, &[&night.model, &night.as_of]).await? != Some(0) {
            return Ok(false);
        }
        for chunk in night.scores.chunks(CHUNK) {
            let users: Vec<&str> = chunk.iter().map(|(u, _, _)| u.as_str()).collect();
            let scores: Vec<f64> = chunk.iter().map(|(_, s, _)| *s).collect();
            let reasons: Vec<String> = chunk.iter().map(|(_, _, r)| r.to_string()).collect();
            let params: Params<'_> = &[&users, &night.model, &night.version, &night.as_of, &scores, &reasons];
            exec(&tx, INSERT, params).await?;
        }
        exec(&tx, DROP_OLDER, &[&night.model, &night.as_of]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn scores(&self, user: &UserId) -> Result<Vec<StoredScore>, StoreError> {
        all(&self.pool.get().await?, USER_SCORES, &[&user.as_str()]).await
    }
}
