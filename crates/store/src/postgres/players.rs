//! Players' profiles, limits and quiz responses on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::limits;
use playpulse_core::protection::Limits;

use super::{PgStore, all, exec, first, limit_of};
use crate::players::{
    INSERT_QUIZ, KNOWN, LimitsChanged, Players, QUIZ_RESPONSES, RISK_PROFILES, SET_LIMITS, SET_RISK,
    UPDATE_PROFILE, USER, limits_of_known, preference_params,
};
use crate::rows::{json, to_json};
use crate::{ProfileUpdate, QuizResponse, StoreError, UserRecord};

/// The limits of a known user, holding the row until commit: a concurrent change waits,
/// then reads what this one wrote.
const LIMITS_FOR_UPDATE: &str = concat!(limits_of_known!(), " FOR UPDATE");

#[async_trait]
impl Players for PgStore {
    async fn user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        first(&self.pool.get().await?, USER, &[&user.as_str()]).await
    }

    async fn update_profile(&self, user: &UserId, u: ProfileUpdate) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let (marketing, at, night, quiet, start, end, media, names) = preference_params(&u);
        let values: super::Params<'_> = &[
            &u.age_verified,
            &u.tz,
            &u.lang,
            &marketing,
            &at,
            &night,
            &quiet,
            &start,
            &end,
            &media,
            &names,
            &user.as_str(),
        ];
        Ok(exec(&client, UPDATE_PROFILE, values).await? == 1)
    }

    async fn change_limits(
        &self,
        user: &UserId,
        wanted: Limits,
        now: Timestamp,
    ) -> Result<LimitsChanged, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(current) = first::<String>(&tx, LIMITS_FOR_UPDATE, &[&user.as_str()]).await? else {
            return Ok(LimitsChanged::UnknownUser);
        };
        match limits::replace(&json(&current)?, wanted, now) {
            Ok(new) => {
                exec(&tx, SET_LIMITS, &[&to_json(&new), &user.as_str()]).await?;
                tx.commit().await?;
                Ok(LimitsChanged::Changed)
            }
            Err(locked) => Ok(LimitsChanged::Locked(locked)),
        }
    }

    async fn save_quiz(&self, user: &UserId, r: QuizResponse) -> Result<bool, StoreError> {
        let at = r.submitted_at.as_millisecond();
        let version = i32::try_from(r.version).map_err(|_| StoreError::Corrupt("quiz version".into()))?;
        let (id, profile) = (user.as_str(), r.profile.as_str());
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if first::<i64>(&tx, KNOWN, &[&id]).await? != Some(1) {
            return Ok(false);
        }
        exec(&tx, INSERT_QUIZ, &[&id, &version, &r.answers, &r.score, &profile, &at]).await?;
        exec(&tx, SET_RISK, &[&profile, &r.score, &id]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn quiz_responses(&self, user: &UserId, limit: usize) -> Result<Vec<QuizResponse>, StoreError> {
        let limit = limit_of(limit.min(crate::MAX_PAGE_SIZE));
        all(&self.pool.get().await?, QUIZ_RESPONSES, &[&user.as_str(), &limit]).await
    }

    async fn risk_profiles(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        all(&self.pool.get().await?, RISK_PROFILES, &[]).await
    }
}
