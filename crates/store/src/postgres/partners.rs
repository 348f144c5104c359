//! Partners on PostgreSQL: a signed batch locks its rewarded users (and a capped partner's
//! totals) before counting what they were already rewarded.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use playpulse_core::partner::{PartnerId, RewardBook, RewardCaps, Rewarded, Site};

use super::ledger::{is_retryable, lock_users, plan_in, write_plan};
use super::{PgStore, all, exec, first};
use crate::partners::*;
use crate::rows::to_json;
use crate::{IngestReport, StoreError};

/// Attempts of a batch that lost a race (see [`is_retryable`]).
const MAX_ATTEMPTS: usize = 3;

impl PgStore {
    async fn partner_ingest_once(
        &self,
        batch: &PartnerBatch,
        split: &Split,
        now: Timestamp,
    ) -> Result<Result<IngestReport, PartnerRefusal>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let partner = batch.partner.as_str();
        let now_ms = now.as_millisecond();
        let Some(signer) = first::<Signer>(&tx, SIGNER, &[&partner, &batch.secret_id, &now_ms]).await? else {
            let known = first::<PartnerRecord>(&tx, BY_ID, &[&partner]).await?.is_some();
            return Ok(Err(if known {
                PartnerRefusal::SecretExpired
            } else {
                PartnerRefusal::UnknownPartner
            }));
        };
        if !signer.active {
            return Ok(Err(PartnerRefusal::Disabled));
        }
        let horizon = replay_horizon(now);
        if now_ms % PRUNE_EVERY == 0 {
            exec(&tx, PRUNE_REQUESTS, &[&partner, &horizon]).await?;
        }
        if exec(&tx, NOTE_REQUEST, &[&partner, &batch.signature, &now_ms, &horizon]).await? == 0 {
            return Ok(Err(PartnerRefusal::Replayed));
        }
        let periods = Periods::of(now, &self.zone);
        let mut rewarded = Rewarded::default();
        if users_capped(&signer.caps) {
            let users = split.rewarded_users();
            lock_users(&tx, &users, now).await?;
            for user in users {
                let params: super::Params<'_> =
                    &[&periods.day, &user.as_str(), &partner, &periods.month_start];
                let sums = first::<(i64, i64)>(&tx, USER_REWARDED, params).await?;
                rewarded.users.insert(user, sums.unwrap_or_default());
            }
        }
        let capped = partner_capped(&signer.caps);
        if capped {
            rewarded.partner_day =
                locked_total(&tx, partner, &periods.day, &periods.day, &periods.day).await?;
            rewarded.partner_month =
                locked_total(&tx, partner, &periods.month, &periods.month_start, &periods.day).await?;
        }
        let mut book = RewardBook { caps: signer.caps, rewarded };
        let (plan, prior) = plan_in(&tx, &split.events, now, &self.zone, &mut book).await?;
        write_plan(&tx, &split.events, &plan, &prior, now).await?;
        let mut credited = 0;
        for &index in &plan.accepted {
            let (Ok(event), Some((txn_id, site))) = (&split.events[index], &split.sites[index]) else {
                continue;
            };
            let (id, user, ts) = (event.id.0, event.user.as_str(), event.ts.as_millisecond());
            match site {
                Site::Visit { dwell_s, actions, page, campaign } => {
                    let params: super::Params<'_> =
                        &[&id, &partner, txn_id, &user, &ts, dwell_s, actions, page, campaign, &now_ms];
                    exec(&tx, INSERT_VISIT, params).await?
                }
                Site::Reward { amount, campaign } => {
                    credited += amount;
                    let params: super::Params<'_> =
                        &[&id, &partner, txn_id, &user, amount, campaign, &ts, &periods.day, &now_ms];
                    exec(&tx, INSERT_REWARD, params).await?
                }
            };
        }
        if capped && credited > 0 {
            for period in [&periods.day, &periods.month] {
                exec(&tx, ADD_TOTAL, &[&credited, &partner, period]).await?;
            }
        }
        tx.commit().await?;
        Ok(Ok(IngestReport { outcomes: plan.outcomes, users: plan.users.into_iter().collect() }))
    }
}

/// The partner's total of `period`, row-locked, seeded from the stored rewards of days
/// `from..=to` when it is not kept yet.
async fn locked_total(
    tx: &impl GenericClient,
    partner: &str,
    period: &str,
    from: &str,
    to: &str,
) -> Result<i64, StoreError> {
    if let Some(tokens) = first::<i64>(tx, LOCK_TOTAL, &[&partner, &period]).await? {
        return Ok(tokens);
    }
    exec(tx, SEED_TOTAL, &[&partner, &period, &from, &to]).await?;
    Ok(first::<i64>(tx, LOCK_TOTAL, &[&partner, &period]).await?.unwrap_or_default())
}

#[async_trait]
impl Partners for PgStore {
    async fn create_partner(&self, partner: PartnerRecord, secret: String) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let (id, created) = (partner.id.as_str(), partner.created_at.as_millisecond());
        let caps = to_json(&partner.caps);
        if exec(&tx, CREATE, &[&id, &partner.name, &partner.active, &caps, &created]).await? == 0 {
            return Ok(false);
        }
        exec(&tx, ADD_SECRET, &[&id, &secret, &created]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn partner(
        &self,
        id: &PartnerId,
    ) -> Result<Option<(PartnerRecord, Vec<PartnerSecret>)>, StoreError> {
        let client = self.pool.get().await?;
        let Some(record) = first::<PartnerRecord>(&client, BY_ID, &[&id.as_str()]).await? else {
            return Ok(None);
        };
        Ok(Some((record, all(&client, SECRETS, &[&id.as_str()]).await?)))
    }

    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        let client = self.pool.get().await?;
        all(&client, ALL, &[]).await
    }

    async fn rotate_partner_secret(
        &self,
        id: &PartnerId,
        secret: String,
        old_until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let id = id.as_str();
        // Rotations of one partner serialize on its row.
        if exec(&tx, SET_ACTIVE_UNCHANGED, &[&id]).await? == 0 {
            return Ok(false);
        }
        exec(&tx, END_EXPIRING, &[&now.as_millisecond(), &id]).await?;
        exec(&tx, EXPIRE_CURRENT, &[&old_until.as_millisecond(), &id]).await?;
        exec(&tx, ADD_SECRET, &[&id, &secret, &now.as_millisecond()]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_partner_active(&self, id: &PartnerId, active: bool) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(exec(&client, SET_ACTIVE, &[&active, &id.as_str()]).await? == 1)
    }

    async fn set_partner_caps(&self, id: &PartnerId, caps: RewardCaps) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let changed = exec(&tx, SET_CAPS, &[&to_json(&caps), &id.as_str()]).await? == 1;
        exec(&tx, CLEAR_TOTALS, &[&id.as_str()]).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn partner_ingest(
        &self,
        batch: PartnerBatch,
        now: Timestamp,
    ) -> Result<Result<IngestReport, PartnerRefusal>, StoreError> {
        let mut batch = batch;
        let split = Split::of(std::mem::take(&mut batch.events));
        let mut attempt = 1;
        loop {
            match self.partner_ingest_once(&batch, &split, now).await {
                Err(err) if is_retryable(&err) && attempt < MAX_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    async fn partner_summary(
        &self,
        id: &PartnerId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PartnerSummary, StoreError> {
        let client = self.pool.get().await?;
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        let params: super::Params<'_> = &[&id.as_str(), &from, &to];
        let (visits, visitors) =
            first::<(i64, i64)>(&client, SUMMARY_VISITS, params).await?.unwrap_or_default();
        let (rewards, (rewarded_users, tokens_rewarded)) =
            first::<(i64, (i64, i64))>(&client, SUMMARY_REWARDS, params).await?.unwrap_or_default();
        let tokens_spent_after = first::<i64>(&client, SUMMARY_SPENT, params).await?.unwrap_or_default();
        Ok(PartnerSummary { visits, visitors, rewards, rewarded_users, tokens_rewarded, tokens_spent_after })
    }
}
