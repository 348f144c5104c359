//! Partners on PostgreSQL: a signed batch checks its signer and notes its signature in one
//! pipelined round trip, goes through the ledger (whose user locks and states carry the
//! per-user reward counters), and writes its site rows beside the ledger's own writes.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use playpulse_core::partner::{PartnerId, RewardBook, RewardCaps, Site};

use futures::try_join;

use super::ledger::{is_retryable, plan_in, write_plan};
use super::{Params, PgStore, all, exec, first};
use crate::partners::*;
use crate::rows::FromCells;
use crate::rows::to_json;
use crate::{IngestReport, StoreError};

/// Attempts of a batch that lost a race (see [`is_retryable`]).
const MAX_ATTEMPTS: usize = 3;

const INSERT_VISITS: &str = "INSERT INTO site_visits (event_id, partner_id, txn_id, user_id, ts_ms, \
     dwell_s, actions, page, campaign, recorded_at_ms) \
     SELECT e, $2, t, u, s, d, a, p, c, $9 FROM unnest($1::uuid[], $3::text[], $4::text[], $5::int8[], \
     $6::int8[], $7::int8[], $8::text[], $10::text[]) AS x(e, t, u, s, d, a, p, c)";
const INSERT_REWARDS: &str = "INSERT INTO site_rewards (event_id, partner_id, txn_id, user_id, amount, \
     campaign, ts_ms, day, recorded_at_ms) \
     SELECT e, $2, t, u, a, c, s, $8, $9 FROM unnest($1::uuid[], $3::text[], $4::text[], $5::int8[], \
     $6::text[], $7::int8[]) AS x(e, t, u, a, c, s)";

/// The accepted events' site rows, as columns for the bulk inserts.
#[derive(Default)]
struct SiteColumns<'a> {
    ids: Vec<uuid::Uuid>,
    txns: Vec<&'a str>,
    users: Vec<&'a str>,
    times: Vec<i64>,
    campaigns: Vec<Option<&'a str>>,
    dwell: Vec<i64>,
    actions: Vec<i64>,
    pages: Vec<Option<&'a str>>,
    amounts: Vec<i64>,
}

impl PgStore {
    async fn partner_ingest_once(
        &self,
        batch: &PartnerBatch,
        split: &Split,
        now: Timestamp,
    ) -> Result<Result<IngestReport, PartnerRefusal>, StoreError> {
        let (_slot, mut client) = self.writer().await?;
        let tx = client.transaction().await?;
        let partner = batch.partner.as_str();
        let now_ms = now.as_millisecond();
        let periods = Periods::of(now, &self.zone);
        let (signer, note) = try_join!(tx.prepare_cached(SIGNER), tx.prepare_cached(NOTE_REQUEST))?;
        let (signer_params, note_params): (Params<'_>, Params<'_>) =
            (&[&partner, &batch.secret_id, &now_ms], &[&partner, &batch.signed_at, &batch.signature]);
        // One round trip; a refusal found below rolls the noted signature back.
        let (signer, noted) =
            try_join!(tx.query_opt(&signer, signer_params), tx.execute(&note, note_params))?;
        let Some(signer) = signer.as_ref().map(|row| Signer::from_cells(row, 0)).transpose()? else {
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
        if noted == 0 {
            return Ok(Err(PartnerRefusal::Replayed));
        }
        if now_ms % PRUNE_EVERY == 0 {
            exec(&tx, PRUNE_REQUESTS, &[&partner, &replay_horizon(now)]).await?;
        }
        let capped = partner_capped(&signer.caps);
        let (mut partner_day, mut partner_month) = (0, 0);
        if capped {
            partner_day = locked_total(&tx, partner, &periods.day, &periods.day, &periods.day).await?;
            partner_month =
                locked_total(&tx, partner, &periods.month, &periods.month_start, &periods.day).await?;
        }
        let mut book = RewardBook { caps: signer.caps, partner_day, partner_month };
        let (plan, prior) = plan_in(&tx, &split.events, now, &self.zone, &self.pseudonyms, &mut book).await?;
        let (mut visits, mut rewards) = (SiteColumns::default(), SiteColumns::default());
        for &index in &plan.accepted {
            let (Ok(event), Some((txn_id, site))) = (&split.events[index], &split.sites[index]) else {
                continue;
            };
            let columns = match site {
                Site::Visit { dwell_s, actions, page, campaign } => {
                    visits.dwell.push(*dwell_s);
                    visits.actions.push(*actions);
                    visits.pages.push(page.as_deref());
                    visits.campaigns.push(campaign.as_deref());
                    &mut visits
                }
                Site::Reward { amount, campaign } => {
                    rewards.amounts.push(*amount);
                    rewards.campaigns.push(campaign.as_deref());
                    &mut rewards
                }
            };
            columns.ids.push(event.id.0);
            columns.txns.push(txn_id);
            columns.users.push(event.user.as_str());
            columns.times.push(event.ts.as_millisecond());
        }
        let credited: i64 = rewards.amounts.iter().sum();
        let v = &visits;
        let visit_params: Params<'_> = &[
            &v.ids,
            &partner,
            &v.txns,
            &v.users,
            &v.times,
            &v.dwell,
            &v.actions,
            &v.pages,
            &now_ms,
            &v.campaigns,
        ];
        let r = &rewards;
        let reward_params: Params<'_> =
            &[&r.ids, &partner, &r.txns, &r.users, &r.amounts, &r.campaigns, &r.times, &periods.day, &now_ms];
        try_join!(
            write_plan(&tx, &split.events, &plan, &prior, now),
            async { if v.ids.is_empty() { Ok(0) } else { exec(&tx, INSERT_VISITS, visit_params).await } },
            async { if r.ids.is_empty() { Ok(0) } else { exec(&tx, INSERT_REWARDS, reward_params).await } },
        )?;
        if capped && credited > 0 {
            for period in [&periods.day, &periods.month] {
                exec(&tx, ADD_TOTAL, &[&credited, &partner, period]).await?;
            }
        }
        tx.commit().await?;
        Ok(Ok(IngestReport::of(plan)))
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
