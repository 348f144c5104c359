//! Players' profiles, limits and quiz responses on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::ids::UserId;
use playpulse_core::limits;
use playpulse_core::protection::Limits;
use rusqlite::params;

use super::{SqliteStore, all, exec, first};
use crate::players::{
    INSERT_QUIZ, KNOWN, LIMITS, LimitsChanged, Players, QUIZ_RESPONSES, RISK_PROFILES, SET_LIMITS, SET_RISK,
    UPDATE_PROFILE, USER, preference_params,
};
use crate::rows::{json, to_json};
use crate::{ProfileUpdate, QuizResponse, StoreError, UserRecord};

#[async_trait]
impl Players for SqliteStore {
    async fn user(&self, user: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.readers.lookup(|conn| first(conn, USER, [user.as_str()])).await
    }

    async fn update_profile(&self, user: &UserId, u: ProfileUpdate) -> Result<bool, StoreError> {
        let user = user.clone();
        self.writer
            .write(move |conn| {
                let (marketing, at, night, quiet, start, end, media, names) = preference_params(&u);
                let (age, tz, lang) = (u.age_verified, &u.tz, &u.lang);
                let values = params![
                    age,
                    tz,
                    lang,
                    marketing,
                    at,
                    night,
                    quiet,
                    start,
                    end,
                    media,
                    names,
                    user.as_str()
                ];
                Ok(exec(conn, UPDATE_PROFILE, values)? == 1)
            })
            .await
    }

    async fn change_limits(
        &self,
        user: &UserId,
        wanted: Limits,
        now: Timestamp,
    ) -> Result<LimitsChanged, StoreError> {
        let user = user.clone();
        // The one writer runs this whole closure in one transaction: nothing commits between
        // the read and the write.
        self.writer
            .write(move |conn| {
                let Some(current) = first::<String>(conn, LIMITS, [user.as_str()])? else {
                    return Ok(LimitsChanged::UnknownUser);
                };
                match limits::replace(&json(&current)?, wanted, now) {
                    Ok(new) => {
                        exec(conn, SET_LIMITS, params![to_json(&new), user.as_str()])?;
                        Ok(LimitsChanged::Changed)
                    }
                    Err(locked) => Ok(LimitsChanged::Locked(locked)),
                }
            })
            .await
    }

    async fn save_quiz(&self, user: &UserId, r: QuizResponse) -> Result<bool, StoreError> {
        let user = user.clone();
        self.writer
            .write(move |conn| {
                let at = r.submitted_at.as_millisecond();
                let (id, profile) = (user.as_str(), r.profile.as_str());
                if first::<i64>(conn, KNOWN, [id])? != Some(1) {
                    return Ok(false);
                }
                exec(conn, INSERT_QUIZ, params![id, r.version, r.answers, r.score, profile, at])?;
                exec(conn, SET_RISK, params![profile, r.score, id])?;
                Ok(true)
            })
            .await
    }

    async fn quiz_responses(&self, user: &UserId, limit: usize) -> Result<Vec<QuizResponse>, StoreError> {
        let (user, limit) = (user.clone(), limit.min(crate::MAX_PAGE_SIZE));
        self.readers.read(move |conn| all(conn, QUIZ_RESPONSES, params![user.as_str(), limit])).await
    }

    async fn risk_profiles(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        self.readers.read(move |conn| all(conn, RISK_PROFILES, params![])).await
    }
}
