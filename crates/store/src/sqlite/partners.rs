//! Partners on SQLite: a signed batch is one job of the single writer.

use async_trait::async_trait;
use jiff::Timestamp;
use playpulse_core::erasure::Pseudonyms;
use playpulse_core::partner::{PartnerId, RewardBook, RewardCaps, Site};
use playpulse_core::time::BusinessZone;
use rusqlite::{Connection, params};

use super::ledger::{plan_in, write_plan};
use super::{SqliteStore, all, exec, first};
use crate::partners::*;
use crate::rows::to_json;
use crate::{IngestReport, StoreError};

fn ingest_tx(
    conn: &Connection,
    batch: &PartnerBatch,
    split: &Split,
    now: Timestamp,
    zone: &BusinessZone,
    pseudonyms: &Pseudonyms,
) -> Result<Result<IngestReport, PartnerRefusal>, StoreError> {
    let partner = batch.partner.as_str();
    let now_ms = now.as_millisecond();
    let Some(signer) = first::<Signer>(conn, SIGNER, params![partner, batch.secret_id, now_ms])? else {
        let known = first::<PartnerRecord>(conn, BY_ID, [partner])?.is_some();
        return Ok(Err(if known { PartnerRefusal::SecretExpired } else { PartnerRefusal::UnknownPartner }));
    };
    if !signer.active {
        return Ok(Err(PartnerRefusal::Disabled));
    }
    if now_ms % PRUNE_EVERY == 0 {
        exec(conn, PRUNE_REQUESTS, params![partner, replay_horizon(now)])?;
    }
    if exec(conn, NOTE_REQUEST, params![partner, batch.signed_at, batch.signature])? == 0 {
        return Ok(Err(PartnerRefusal::Replayed));
    }
    let periods = Periods::of(now, zone);
    let capped = partner_capped(&signer.caps);
    let (mut partner_day, mut partner_month) = (0, 0);
    if capped {
        partner_day = locked_total(conn, partner, &periods.day, &periods.day, &periods.day)?;
        partner_month = locked_total(conn, partner, &periods.month, &periods.month_start, &periods.day)?;
    }
    let mut book = RewardBook { caps: signer.caps, partner_day, partner_month };
    let (plan, prior) = plan_in(conn, &split.events, now, zone, pseudonyms, &mut book)?;
    write_plan(conn, &split.events, &plan, &prior, now)?;
    let mut credited = 0;
    for &index in &plan.accepted {
        let (Ok(event), Some((txn_id, site))) = (&split.events[index], &split.sites[index]) else { continue };
        let (id, user, ts) = (event.id.0, event.user.as_str(), event.ts.as_millisecond());
        match site {
            Site::Visit { dwell_s, actions, page, campaign } => exec(
                conn,
                INSERT_VISIT,
                params![id, partner, txn_id, user, ts, dwell_s, actions, page, campaign, now_ms],
            )?,
            Site::Reward { amount, campaign } => {
                credited += amount;
                exec(
                    conn,
                    INSERT_REWARD,
                    params![id, partner, txn_id, user, amount, campaign, ts, periods.day, now_ms],
                )?
            }
        };
    }
    if capped && credited > 0 {
        for period in [&periods.day, &periods.month] {
            exec(conn, ADD_TOTAL, params![credited, partner, period])?;
        }
    }
    Ok(Ok(IngestReport::of(plan)))
}

/// The partner's total of `period`, seeded from the stored rewards of days `from..=to` when
/// it is not kept yet.
fn locked_total(
    conn: &Connection,
    partner: &str,
    period: &str,
    from: &str,
    to: &str,
) -> Result<i64, StoreError> {
    if let Some(tokens) = first::<i64>(conn, LOCK_TOTAL, params![partner, period])? {
        return Ok(tokens);
    }
    exec(conn, SEED_TOTAL, params![partner, period, from, to])?;
    Ok(first::<i64>(conn, LOCK_TOTAL, params![partner, period])?.unwrap_or_default())
}

#[async_trait]
impl Partners for SqliteStore {
    async fn create_partner(&self, partner: PartnerRecord, secret: String) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let (id, created) = (partner.id.as_str(), partner.created_at.as_millisecond());
                let caps = to_json(&partner.caps);
                if exec(conn, CREATE, params![id, partner.name, partner.active, caps, created])? == 0 {
                    return Ok(false);
                }
                exec(conn, ADD_SECRET, params![id, secret, created])?;
                Ok(true)
            })
            .await
    }

    async fn partner(
        &self,
        id: &PartnerId,
    ) -> Result<Option<(PartnerRecord, Vec<PartnerSecret>)>, StoreError> {
        let id = id.as_str().to_owned();
        self.readers
            .read(move |conn| {
                let Some(record) = first::<PartnerRecord>(conn, BY_ID, [&id])? else { return Ok(None) };
                Ok(Some((record, all(conn, SECRETS, [&id])?)))
            })
            .await
    }

    async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        self.readers.read(|conn| all(conn, ALL, [])).await
    }

    async fn rotate_partner_secret(
        &self,
        id: &PartnerId,
        secret: String,
        old_until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        self.writer
            .write(move |conn| {
                if exec(conn, SET_ACTIVE_UNCHANGED, [&id])? == 0 {
                    return Ok(false);
                }
                exec(conn, END_EXPIRING, params![now.as_millisecond(), id])?;
                exec(conn, EXPIRE_CURRENT, params![old_until.as_millisecond(), id])?;
                exec(conn, ADD_SECRET, params![id, secret, now.as_millisecond()])?;
                Ok(true)
            })
            .await
    }

    async fn set_partner_active(&self, id: &PartnerId, active: bool) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        self.writer.write(move |conn| Ok(exec(conn, SET_ACTIVE, params![active, id])? == 1)).await
    }

    async fn set_partner_caps(&self, id: &PartnerId, caps: RewardCaps) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        self.writer
            .write(move |conn| {
                exec(conn, CLEAR_TOTALS, [&id])?;
                Ok(exec(conn, SET_CAPS, params![to_json(&caps), id])? == 1)
            })
            .await
    }

    async fn partner_ingest(
        &self,
        batch: PartnerBatch,
        now: Timestamp,
    ) -> Result<Result<IngestReport, PartnerRefusal>, StoreError> {
        let (zone, pseudonyms, mut batch) = (self.zone.clone(), self.pseudonyms.clone(), batch);
        let split = Split::of(std::mem::take(&mut batch.events));
        self.writer.write(move |conn| ingest_tx(conn, &batch, &split, now, &zone, &pseudonyms)).await
    }

    async fn partner_summary(
        &self,
        id: &PartnerId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PartnerSummary, StoreError> {
        let id = id.as_str().to_owned();
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        self.readers
            .read(move |conn| {
                let p = params![id, from, to];
                let (visits, visitors) = first::<(i64, i64)>(conn, SUMMARY_VISITS, p)?.unwrap_or_default();
                let (rewards, (rewarded_users, tokens_rewarded)) =
                    first::<(i64, (i64, i64))>(conn, SUMMARY_REWARDS, p)?.unwrap_or_default();
                let tokens_spent_after = first::<i64>(conn, SUMMARY_SPENT, p)?.unwrap_or_default();
                Ok(PartnerSummary {
                    visits,
                    visitors,
                    rewards,
                    rewarded_users,
                    tokens_rewarded,
                    tokens_spent_after,
                })
            })
            .await
    }
}
