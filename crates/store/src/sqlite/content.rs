//! The content catalog and unlocks on SQLite: every write runs on the one writer, so the
//! reads of a decision and its writes see no other writer between them. A refusal rolls back
//! to a savepoint, so a refused unlock leaves nothing behind (not even the user's row) while
//! the group commit around it goes on.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::content::{ContentId, ContentItem, MAX_CATALOG_ITEMS, unlock_event_id, unlock_events};
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::ids::UserId;
use playpulse_core::ingest::AdmitAll;
use playpulse_core::time::BusinessZone;
use rusqlite::{Connection, params};

use super::ledger::{plan_in, write_plan};
use super::{SqliteStore, all, exec, first};
use crate::StoreError;
use crate::content::{
    Content, ContentSaved, ContentUnlock, Expected, HOLDS_STAGE, INSERT_UNLOCK, INSERT_VERSION, ITEM, ITEMS,
    ImportCounts, REWARD_BY_EVENT, ReadFacts, SEGMENT_OF, STAGE_HOLDER, SaveStep, StoredContent,
    UNLOCK_COUNTS, UNLOCK_OF, UNLOCKS_OF, UPSERT_ITEM, UnlockOutcome, UnlockRequest, VERSIONS, decide_save,
    decide_unlock, replay, saved, trigger,
};
use crate::ledger::count;
use crate::rows::to_json;

/// Runs `work` inside a savepoint, kept when it answers `Ok(Ok(_))` and undone otherwise.
fn in_savepoint<T, R>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<Result<T, R>, StoreError>,
) -> Result<Result<T, R>, StoreError> {
    conn.execute_batch("SAVEPOINT content")?;
    let result = work(conn);
    match &result {
        Ok(Ok(_)) => conn.execute_batch("RELEASE content")?,
        _ => conn.execute_batch("ROLLBACK TO content; RELEASE content")?,
    }
    result
}

fn save(
    conn: &Connection,
    item: ContentItem,
    expected: Expected,
    now: Timestamp,
) -> Result<ContentSaved, StoreError> {
    let current = first::<StoredContent>(conn, ITEM, [item.content_id.as_str()])?;
    let holder =
        first::<ContentId>(conn, STAGE_HOLDER, params![item.series, item.stage, item.content_id.as_str()])?;
    let (version, created) = match decide_save(&item, current, expected, holder) {
        SaveStep::Answer(answer) => return Ok(answer),
        SaveStep::Write { version, created } => (version, created),
    };
    write(conn, &item, version, false, now)?;
    Ok(saved(item, version, false, created, now))
}

fn write(
    conn: &Connection,
    item: &ContentItem,
    version: i64,
    retired: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (id, body, now_ms) = (item.content_id.as_str(), to_json(item), now.as_millisecond());
    exec(
        conn,
        UPSERT_ITEM,
        params![id, item.series, item.stage, item.adult, item.cost.0, body, version, retired, now_ms],
    )?;
    exec(conn, INSERT_VERSION, params![id, version, body, retired, now_ms])?;
    Ok(())
}

fn unlock(
    conn: &Connection,
    request: &UnlockRequest,
    zone: &BusinessZone,
    pseudonyms: &Pseudonyms,
) -> Result<Result<UnlockOutcome, UnlockOutcome>, StoreError> {
    let item = match first::<StoredContent>(conn, ITEM, [request.content_id.as_str()])? {
        Some(stored) if !stored.retired => stored.item,
        _ => return Ok(Err(UnlockOutcome::UnknownContent)),
    };
    let user = request.user.as_str();
    let batch = unlock_events(&item, &request.user, request.request, request.ts, request.now);
    let (plan, prior) = plan_in(conn, &batch, request.now, zone, pseudonyms, &mut AdmitAll)?;
    if let Some(found) = first::<ContentUnlock>(conn, REWARD_BY_EVENT, [unlock_event_id(request.request).0])?
    {
        return Ok(Err(replay(found, request, &item)));
    }
    let read = ReadFacts {
        already_unlocked: first::<ContentUnlock>(conn, UNLOCK_OF, params![user, item.content_id.as_str()])?
            .is_some(),
        previous_unlocked: item.stage == 1
            || first::<i64>(conn, HOLDS_STAGE, params![user, item.series, item.stage - 1])? > Some(0),
        segment: first::<String>(conn, SEGMENT_OF, [user])?,
    };
    if let Err(refusal) = decide_unlock(&item, &read, prior.get(&request.user), &request.ladder, &plan) {
        return Ok(Err(UnlockOutcome::Refused { item: Box::new(item), refusal }));
    }
    write_plan(conn, &batch, &plan, &prior, request.now)?;
    let unlock = ContentUnlock {
        user: request.user.clone(),
        content_id: item.content_id.clone(),
        tokens: item.cost,
        awarded_at: request.ts,
        triggered_by: trigger(request.request),
        event_id: unlock_event_id(request.request),
    };
    exec(
        conn,
        INSERT_UNLOCK,
        params![
            user,
            item.content_id.as_str(),
            item.cost.0,
            request.ts.as_millisecond(),
            unlock.triggered_by,
            unlock.event_id.0
        ],
    )?;
    let state = plan.users.get(&request.user).cloned().expect("an accepted unlock event touched its user");
    let state = Box::new(state);
    Ok(Ok(UnlockOutcome::Unlocked { unlock, state }))
}

#[async_trait]
impl Content for SqliteStore {
    async fn content_items(&self) -> Result<Vec<StoredContent>, StoreError> {
        self.readers.read(|conn| all(conn, ITEMS, [MAX_CATALOG_ITEMS])).await
    }

    async fn content_item(&self, id: &ContentId) -> Result<Option<StoredContent>, StoreError> {
        self.readers.lookup(|conn| first(conn, ITEM, [id.as_str()])).await
    }

    async fn save_content(
        &self,
        item: ContentItem,
        expected: Expected,
        now: Timestamp,
    ) -> Result<ContentSaved, StoreError> {
        self.writer.write(move |conn| save(conn, item.clone(), expected, now)).await
    }

    async fn import_content(
        &self,
        items: Vec<ContentItem>,
        now: Timestamp,
    ) -> Result<Result<ImportCounts, (ContentId, ContentSaved)>, StoreError> {
        self.writer
            .write(move |conn| {
                in_savepoint(conn, |conn| {
                    let mut counts = ImportCounts::default();
                    for item in &items {
                        match save(conn, item.clone(), Expected::Any, now)? {
                            ContentSaved::Saved { created: true, .. } => counts.created += 1,
                            ContentSaved::Saved { changed: true, .. } => counts.updated += 1,
                            ContentSaved::Saved { .. } => counts.unchanged += 1,
                            other => return Ok(Err((item.content_id.clone(), other))),
                        }
                    }
                    Ok(Ok(counts))
                })
            })
            .await
    }

    async fn retire_content(&self, id: &ContentId, now: Timestamp) -> Result<ContentSaved, StoreError> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                let Some(current) = first::<StoredContent>(conn, ITEM, [id.as_str()])? else {
                    return Ok(ContentSaved::UnknownContent);
                };
                if current.retired {
                    return Ok(ContentSaved::Saved {
                        stored: Box::new(current),
                        created: false,
                        changed: false,
                    });
                }
                let version = current.version + 1;
                write(conn, &current.item, version, true, now)?;
                Ok(saved(current.item, version, true, false, now))
            })
            .await
    }

    async fn content_versions(&self, id: &ContentId) -> Result<Vec<StoredContent>, StoreError> {
        let id = id.clone();
        self.readers.read(move |conn| all(conn, VERSIONS, params![id.as_str(), crate::MAX_PAGE_SIZE])).await
    }

    async fn unlocks_of(&self, user: &UserId) -> Result<Vec<ContentUnlock>, StoreError> {
        let user = user.clone();
        self.readers.read(move |conn| all(conn, UNLOCKS_OF, params![user.as_str(), MAX_CATALOG_ITEMS])).await
    }

    async fn unlock_content(&self, request: UnlockRequest) -> Result<UnlockOutcome, StoreError> {
        let (zone, pseudonyms) = (self.zone.clone(), self.pseudonyms.clone());
        let answer = self
            .writer
            .write(move |conn| in_savepoint(conn, |conn| unlock(conn, &request, &zone, &pseudonyms)))
            .await?;
        Ok(answer.unwrap_or_else(|refused| refused))
    }

    async fn unlock_counts(&self) -> Result<Vec<(ContentId, u64)>, StoreError> {
        let rows: Vec<(ContentId, i64)> = self.readers.read(|conn| all(conn, UNLOCK_COUNTS, [])).await?;
        rows.into_iter().map(|(id, n)| Ok((id, count(n)?))).collect()
    }
}
