//! The content catalog and unlocks on PostgreSQL. A save reads the item `FOR UPDATE`, so
//! concurrent writers of one item serialize and the later one sees the version the earlier
//! wrote. An unlock plans its events with the ledger's `plan_in`, which row-locks the user,
//! and reads the rule's facts only after that lock: two unlocks of one user serialize, and
//! the second decides on what the first committed. A refusal drops the transaction unused.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use playpulse_core::content::{ContentId, ContentItem, MAX_CATALOG_ITEMS, unlock_event_id, unlock_events};
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::ids::UserId;
use playpulse_core::ingest::AdmitAll;
use playpulse_core::time::BusinessZone;

use super::ledger::{is_retryable, plan_in, write_plan};
use super::{PgStore, all, exec, first, limit_of};
use crate::StoreError;
use crate::content::{
    Content, ContentSaved, ContentUnlock, Expected, HOLDS_STAGE, INSERT_UNLOCK, INSERT_VERSION, ITEM, ITEMS,
    ImportCounts, REWARD_BY_EVENT, ReadFacts, SEGMENT_OF, STAGE_HOLDER, SaveStep, StoredContent,
    UNLOCK_COUNTS, UNLOCK_OF, UNLOCKS_OF, UPSERT_ITEM, UnlockOutcome, UnlockRequest, VERSIONS, decide_save,
    decide_unlock, replay, saved, trigger,
};
use crate::ledger::count;
use crate::rows::to_json;

/// Attempts of a write that lost a race to a unique index (the retry answers properly).
const MAX_ATTEMPTS: usize = 3;

const ITEM_FOR_UPDATE: &str = concat!(
    "SELECT body, version, retired, updated_at_ms FROM content_items WHERE content_id = $1",
    " FOR UPDATE"
);

fn stage_of(item: &ContentItem) -> i32 {
    i32::try_from(item.stage).expect("stages are at most MAX_STAGE")
}

async fn save(
    tx: &impl GenericClient,
    item: &ContentItem,
    expected: Expected,
    now: Timestamp,
) -> Result<ContentSaved, StoreError> {
    let id = item.content_id.as_str();
    let current = first::<StoredContent>(tx, ITEM_FOR_UPDATE, &[&id]).await?;
    let holder = first::<ContentId>(tx, STAGE_HOLDER, &[&item.series, &stage_of(item), &id]).await?;
    let (version, created) = match decide_save(item, current, expected, holder) {
        SaveStep::Answer(answer) => return Ok(answer),
        SaveStep::Write { version, created } => (version, created),
    };
    write(tx, item, version, false, now).await?;
    Ok(saved(item.clone(), version, false, created, now))
}

async fn write(
    tx: &impl GenericClient,
    item: &ContentItem,
    version: i64,
    retired: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    let (id, body, now_ms) = (item.content_id.as_str(), to_json(item), now.as_millisecond());
    let row: super::Params<'_> =
        &[&id, &item.series, &stage_of(item), &item.adult, &item.cost.0, &body, &version, &retired, &now_ms];
    exec(tx, UPSERT_ITEM, row).await?;
    exec(tx, INSERT_VERSION, &[&id, &version, &body, &retired, &now_ms]).await?;
    Ok(())
}

/// One attempt of an unlock: `Ok` to commit, `Err` to drop.
async fn unlock(
    tx: &impl GenericClient,
    request: &UnlockRequest,
    zone: &BusinessZone,
    pseudonyms: &Pseudonyms,
) -> Result<Result<UnlockOutcome, UnlockOutcome>, StoreError> {
    let item = match first::<StoredContent>(tx, ITEM, &[&request.content_id.as_str()]).await? {
        Some(stored) if !stored.retired => stored.item,
        _ => return Ok(Err(UnlockOutcome::UnknownContent)),
    };
    let (user, content) = (request.user.as_str(), item.content_id.as_str());
    let batch = unlock_events(&item, &request.user, request.request, request.ts, request.now);
    let (plan, prior) = plan_in(tx, &batch, request.now, zone, pseudonyms, &mut AdmitAll).await?;
    // Read under the user's lock, which plan_in holds from here to the end of the transaction.
    let event_id = unlock_event_id(request.request);
    if let Some(found) = first::<ContentUnlock>(tx, REWARD_BY_EVENT, &[&event_id.0]).await? {
        return Ok(Err(replay(found, request, &item)));
    }
    let previous_stage = stage_of(&item) - 1;
    let read = ReadFacts {
        already_unlocked: first::<ContentUnlock>(tx, UNLOCK_OF, &[&user, &content]).await?.is_some(),
        previous_unlocked: item.stage == 1
            || first::<i64>(tx, HOLDS_STAGE, &[&user, &item.series, &previous_stage]).await? > Some(0),
        segment: first::<String>(tx, SEGMENT_OF, &[&user]).await?,
    };
    if let Err(refusal) = decide_unlock(&item, &read, prior.get(&request.user), &request.ladder, &plan) {
        return Ok(Err(UnlockOutcome::Refused { item: Box::new(item), refusal }));
    }
    write_plan(tx, &batch, &plan, &prior, request.now).await?;
    let unlock = ContentUnlock {
        user: request.user.clone(),
        content_id: item.content_id.clone(),
        tokens: item.cost,
        awarded_at: request.ts,
        triggered_by: trigger(request.request),
        event_id,
    };
    let awarded_ms = request.ts.as_millisecond();
    exec(tx, INSERT_UNLOCK, &[&user, &content, &item.cost.0, &awarded_ms, &unlock.triggered_by, &event_id.0])
        .await?;
    let state = plan.users.get(&request.user).cloned().expect("an accepted unlock event touched its user");
    let state = Box::new(state);
    Ok(Ok(UnlockOutcome::Unlocked { unlock, state }))
}

impl PgStore {
    async fn unlock_once(&self, request: &UnlockRequest) -> Result<UnlockOutcome, StoreError> {
        let (_slot, mut client) = self.writer().await?;
        let tx = client.transaction().await?;
        match unlock(&tx, request, &self.zone, &self.pseudonyms).await? {
            Ok(done) => {
                tx.commit().await?;
                Ok(done)
            }
            Err(refused) => Ok(refused),
        }
    }

    async fn save_once(
        &self,
        item: &ContentItem,
        expected: Expected,
        now: Timestamp,
    ) -> Result<ContentSaved, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let answer = save(&tx, item, expected, now).await?;
        tx.commit().await?;
        Ok(answer)
    }

    async fn import_once(
        &self,
        items: &[ContentItem],
        now: Timestamp,
    ) -> Result<Result<ImportCounts, (ContentId, ContentSaved)>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut counts = ImportCounts::default();
        for item in items {
            match save(&tx, item, Expected::Any, now).await? {
                ContentSaved::Saved { created: true, .. } => counts.created += 1,
                ContentSaved::Saved { changed: true, .. } => counts.updated += 1,
                ContentSaved::Saved { .. } => counts.unchanged += 1,
                other => return Ok(Err((item.content_id.clone(), other))),
            }
        }
        tx.commit().await?;
        Ok(Ok(counts))
    }
}

/// Runs `attempt` again while it loses races to a unique index, at most [`MAX_ATTEMPTS`] times.
macro_rules! retried {
    ($attempt:expr) => {{
        let mut tries = 1;
        loop {
            match $attempt.await {
                Err(err) if is_retryable(&err) && tries < MAX_ATTEMPTS => tries += 1,
                result => break result,
            }
        }
    }};
}

#[async_trait]
impl Content for PgStore {
    async fn content_items(&self) -> Result<Vec<StoredContent>, StoreError> {
        all(&self.pool.get().await?, ITEMS, &[&limit_of(MAX_CATALOG_ITEMS)]).await
    }

    async fn content_item(&self, id: &ContentId) -> Result<Option<StoredContent>, StoreError> {
        first(&self.pool.get().await?, ITEM, &[&id.as_str()]).await
    }

    async fn save_content(
        &self,
        item: ContentItem,
        expected: Expected,
        now: Timestamp,
    ) -> Result<ContentSaved, StoreError> {
        retried!(self.save_once(&item, expected, now))
    }

    async fn import_content(
        &self,
        items: Vec<ContentItem>,
        now: Timestamp,
    ) -> Result<Result<ImportCounts, (ContentId, ContentSaved)>, StoreError> {
        retried!(self.import_once(&items, now))
    }

    async fn retire_content(&self, id: &ContentId, now: Timestamp) -> Result<ContentSaved, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(current) = first::<StoredContent>(&tx, ITEM_FOR_UPDATE, &[&id.as_str()]).await? else {
            return Ok(ContentSaved::UnknownContent);
        };
        if current.retired {
            return Ok(ContentSaved::Saved { stored: Box::new(current), created: false, changed: false });
        }
        let version = current.version + 1;
        write(&tx, &current.item, version, true, now).await?;
        tx.commit().await?;
        Ok(saved(current.item, version, true, false, now))
    }

    async fn content_versions(&self, id: &ContentId) -> Result<Vec<StoredContent>, StoreError> {
        let limit = limit_of(crate::MAX_PAGE_SIZE);
        all(&self.pool.get().await?, VERSIONS, &[&id.as_str(), &limit]).await
    }

    async fn unlocks_of(&self, user: &UserId) -> Result<Vec<ContentUnlock>, StoreError> {
        let limit = limit_of(MAX_CATALOG_ITEMS);
        all(&self.pool.get().await?, UNLOCKS_OF, &[&user.as_str(), &limit]).await
    }

    async fn unlock_content(&self, request: UnlockRequest) -> Result<UnlockOutcome, StoreError> {
        retried!(self.unlock_once(&request))
    }

    async fn unlock_counts(&self) -> Result<Vec<(ContentId, u64)>, StoreError> {
        let rows: Vec<(ContentId, i64)> = all(&self.pool.get().await?, UNLOCK_COUNTS, &[]).await?;
        rows.into_iter().map(|(id, n)| Ok((id, count(n)?))).collect()
    }
}
