//! Replays a simulated history through the paths a live deployment uses: the app's server
//! posts its events and its users' content unlocks, and partner A signs and posts its visits
//! and rewards itself.
//!
//! Only each user's own order matters to the ledger (a reward must land before the spends
//! it pays for), so the history is cut per user into runs of one route, and the k-th runs of
//! all users go together ("waves"): big batches, each user's events in order.

use std::collections::{HashMap, HashSet};

use anyhow::{anyhow, bail};
use futures::StreamExt;
use playpulse_core::content::ContentId;
use playpulse_core::ids::{EventId, UserId};
use playpulse_core::ingest::MAX_EVENTS_PER_BATCH;
use playpulse_core::partner::{MAX_EVENTS_PER_REQUEST, PartnerId, sign};
use playpulse_server::AppState;
use playpulse_server::events::ingest_values;
use playpulse_server::partners::{Signed, ingest_signed};
use playpulse_server::unlocks::unlock_content;
use playpulse_sim::event::{Kind, SimEvent, user_id};
use playpulse_sim::truth::UserTruth;
use playpulse_store::ProfileUpdate;
use serde_json::{Value, json};

use crate::commands::content::parse_catalog;
use crate::commands::simulate::progress_bar;

/// Ingest lanes run side by side; each carries a fixed share of the users.
const LANES: usize = 4;
/// Users whose unlocks one lane sends at once.
const UNLOCKS_IN_FLIGHT: usize = 16;

/// A partner the history's partner events are sent as.
#[derive(Clone)]
pub struct PartnerKey {
    pub id: PartnerId,
    pub secret: String,
}

/// What the replay sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Replayed {
    pub accepted: u64,
    pub rejected: u64,
    /// Of them, sent by the partner itself.
    pub partner_events: u64,
    /// Content unlocks (each a spend and a CONTENT_UNLOCK event).
    pub unlocks: u64,
}

impl std::ops::AddAssign for Replayed {
    fn add_assign(&mut self, other: Self) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.partner_events += other.partner_events;
        self.unlocks += other.unlocks;
    }
}

/// Sends the history (in time order) through the event, partner and unlock routes. The users
/// in `verified` are age-verified as soon as they exist (after their first run of events).
pub async fn replay(
    state: &AppState,
    partner: &PartnerKey,
    verified: &HashSet<u32>,
    events: Vec<SimEvent>,
) -> anyhow::Result<Replayed> {
    let bar = progress_bar(events.len() as u64, "ingest");
    let mut lanes: Vec<Vec<SimEvent>> = vec![Vec::new(); LANES];
    for event in events {
        lanes[event.user as usize % LANES].push(event);
    }
    let work = lanes.into_iter().map(|lane| {
        let (state, partner, bar) = (state.clone(), partner.clone(), bar.clone());
        let mut users: Vec<u32> = lane.iter().map(|e| e.user).filter(|u| verified.contains(u)).collect();
        users.sort_unstable();
        users.dedup();
        tokio::spawn(async move {
            let mut total = Replayed::default();
            for (k, wave) in waves(lane).into_iter().enumerate() {
                let sent = wave.size();
                total += send_wave(&state, &partner, wave).await?;
                if k == 0 {
                    verify_ages(&state, users.iter().copied()).await?;
                }
                bar.inc(sent);
            }
            anyhow::Ok(total)
        })
    });
    let mut total = Replayed::default();
    for lane in futures::future::join_all(work).await {
        total += lane??;
    }
    bar.finish_and_clear();
    Ok(total)
}

/// Imports the simulated app's content catalog; returns how many items it holds.
pub async fn import_catalog(state: &AppState) -> anyhow::Result<usize> {
    let text = serde_json::to_string(&playpulse_sim::content::catalog())?;
    let items = parse_catalog(&text, &state.product.segments)?;
    let count = items.len();
    if let Err((id, why)) = state.store.import_content(items, state.clock.now()).await? {
        bail!("the simulated catalog's item {id} cannot be saved: {why:?}");
    }
    state.refresh_catalog().await;
    Ok(count)
}

/// The users the simulator says are adults: the operator has checked their age.
pub fn age_verified(truth: &[UserTruth]) -> HashSet<u32> {
    (truth.iter())
        .filter(|t| t.traits.age_verified)
        .filter_map(|t| t.user_id.trim_start_matches('u').parse().ok())
        .collect()
}

/// An unlock the app's server asks for on a user's behalf.
struct UnlockCall {
    user: String,
    content_id: String,
    /// The simulated spend's id: the request's idempotency key.
    request: uuid::Uuid,
    ts: String,
}

/// One wave: the app's events, the partner's, and runs of unlocks, each user's in order.
#[derive(Default)]
struct Wave {
    events: Vec<Value>,
    partner: Vec<Value>,
    unlocks: Vec<Vec<UnlockCall>>,
}

impl Wave {
    /// Simulated events the wave carries.
    fn size(&self) -> u64 {
        (self.events.len() + self.partner.len() + 3 * self.unlocks.iter().map(Vec::len).sum::<usize>()) as u64
    }
}

/// A stretch of one user's history that goes one way.
enum Run {
    Events(Vec<Value>),
    Partner(Vec<Value>),
    Unlocks(Vec<UnlockCall>),
}

/// Appends one step to a user's runs, extending the last run if it goes the same way.
fn push(runs: &mut Vec<Run>, step: Run) {
    match (runs.last_mut(), step) {
        (Some(Run::Events(run)), Run::Events(more)) | (Some(Run::Partner(run)), Run::Partner(more)) => {
            run.extend(more)
        }
        (Some(Run::Unlocks(run)), Run::Unlocks(more)) => run.extend(more),
        (_, step) => runs.push(step),
    }
}

/// An unlock is the simulator's spend on `unlock` followed by its CONTENT_UNLOCK (the view
/// after them is an ordinary event).
fn unlock_of(spend: &SimEvent, next: Option<&SimEvent>) -> Option<UnlockCall> {
    match (&spend.kind, next.map(|n| &n.kind)) {
        (Kind::Spend { sink: "unlock", .. }, Some(Kind::ContentUnlock { content_id, .. })) => {
            Some(UnlockCall {
                user: user_id(spend.user),
                content_id: content_id.clone(),
                request: spend.id,
                ts: spend.ts.to_string(),
            })
        }
        _ => None,
    }
}

fn waves(lane: Vec<SimEvent>) -> Vec<Wave> {
    let mut histories: HashMap<u32, Vec<SimEvent>> = HashMap::new();
    let mut order = Vec::new();
    for event in lane {
        histories
            .entry(event.user)
            .or_insert_with(|| {
                order.push(event.user);
                Vec::new()
            })
            .push(event);
    }
    let mut waves: Vec<Wave> = Vec::new();
    for user in order {
        let history = histories.remove(&user).unwrap_or_default();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < history.len() {
            let event = &history[i];
            if let Some(call) = unlock_of(event, history.get(i + 1)) {
                push(&mut runs, Run::Unlocks(vec![call]));
                i += 2;
                continue;
            }
            match event.partner_event() {
                Some(value) => push(&mut runs, Run::Partner(vec![value])),
                None => push(&mut runs, Run::Events(vec![event.envelope()])),
            }
            i += 1;
        }
        for (k, run) in runs.into_iter().enumerate() {
            if waves.len() <= k {
                waves.push(Wave::default());
            }
            match run {
                Run::Events(values) => waves[k].events.extend(values),
                Run::Partner(values) => waves[k].partner.extend(values),
                Run::Unlocks(calls) => waves[k].unlocks.push(calls),
            }
        }
    }
    waves
}

/// Marks users age-verified, as the operator would once it checked their age.
async fn verify_ages(state: &AppState, users: impl Iterator<Item = u32>) -> anyhow::Result<()> {
    for user in users {
        let id = UserId::parse(&user_id(user)).expect("simulated ids are valid");
        let update = ProfileUpdate { age_verified: Some(true), ..ProfileUpdate::default() };
        state.store.update_profile(&id, update).await?;
    }
    Ok(())
}

async fn send_wave(state: &AppState, partner: &PartnerKey, wave: Wave) -> anyhow::Result<Replayed> {
    let mut sent = Replayed::default();
    for chunk in wave.events.chunks(MAX_EVENTS_PER_BATCH) {
        let answer = ingest_values(state, chunk.to_vec())
            .await
            .map_err(|e| anyhow!("ingest failed: {}: {}", e.code, e.detail))?;
        sent.accepted += answer.accepted as u64;
        sent.rejected += answer.rejected as u64;
        report_rejected(chunk, answer.results.iter().map(|r| (r.code, r.message.as_deref())));
    }
    for chunk in wave.partner.chunks(MAX_EVENTS_PER_REQUEST) {
        let body = serde_json::to_vec(&json!({ "events": chunk }))?;
        let ts = state.clock.now().as_second();
        let (timestamp, signature) = (ts.to_string(), sign(partner.secret.as_bytes(), ts, &body));
        let signed = Signed { timestamp: Some(&timestamp), signature: Some(&signature), body: &body };
        let answer = ingest_signed(state, partner.id.as_str(), signed)
            .await
            .map_err(|e| anyhow!("partner ingest failed: {}: {}", e.code, e.detail))?;
        sent.accepted += answer.accepted as u64;
        sent.rejected += answer.rejected as u64;
        sent.partner_events += chunk.len() as u64;
        report_rejected(chunk, answer.results.iter().map(|r| (r.code, r.message.as_deref())));
    }
    // Each user's unlocks in order; users side by side.
    let mut runs = futures::stream::iter(wave.unlocks)
        .map(|run| async move {
            let mut sent = Replayed::default();
            for call in run {
                let user = UserId::parse(&call.user).map_err(|e| anyhow!("{e}"))?;
                let content = ContentId::parse(&call.content_id)
                    .ok_or_else(|| anyhow!("simulated content id {} is invalid", call.content_id))?;
                match unlock_content(state, user, content, EventId(call.request), Some(&call.ts)).await {
                    Ok(_) => sent.accepted += 2,
                    Err(e) => {
                        eprintln!(
                            "unlock of {} by {} refused: {}: {}",
                            call.content_id, call.user, e.code, e.detail
                        );
                        sent.rejected += 2;
                    }
                }
                sent.unlocks += 1;
            }
            anyhow::Ok(sent)
        })
        .buffer_unordered(UNLOCKS_IN_FLIGHT);
    while let Some(done) = runs.next().await {
        sent += done?;
    }
    Ok(sent)
}

/// Names each refused event of a chunk, with its code: a replay must refuse none.
fn report_rejected<'a>(
    chunk: &[Value],
    results: impl Iterator<Item = (Option<&'static str>, Option<&'a str>)>,
) {
    for (event, (code, message)) in chunk.iter().zip(results) {
        if let Some(code) = code {
            eprintln!("refused ({code}: {}): {event}", message.unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn event(user: u32, n: u128, kind: Kind) -> SimEvent {
        SimEvent {
            id: uuid::Uuid::from_u128(n),
            user,
            ts: Timestamp::from_second(1_700_000_000).unwrap(),
            kind,
        }
    }

    #[test]
    fn waves_keep_each_users_order_and_route() {
        let earn = |amount| Kind::Earn { amount, source: "partner" };
        let spend = |amount| Kind::Spend { amount, sink: "game", paid: false };
        let lane = vec![
            event(1, 1, Kind::SessionStart),
            event(2, 2, earn(50)),
            event(1, 3, earn(40)),
            event(2, 4, spend(50)),
            event(1, 5, spend(40)),
            event(1, 6, earn(10)),
            event(2, 7, Kind::Spend { amount: 30, sink: "unlock", paid: false }),
            event(2, 8, Kind::ContentUnlock { content_id: "story-01".into(), stage: 1 }),
            event(2, 9, Kind::ViewContent { content_id: "story-01".into() }),
        ];
        let waves = waves(lane);
        let names = |values: &[Value]| -> Vec<String> {
            values.iter().map(|v| v.get("event_id").or(v.get("txn_id")).unwrap().to_string()).collect()
        };
        let id = |n: u128| format!("\"{}\"", uuid::Uuid::from_u128(n));
        let txn = |n: u128| format!("\"sim-{}\"", uuid::Uuid::from_u128(n));
        assert_eq!(waves.len(), 4);
        assert_eq!((names(&waves[0].events), names(&waves[0].partner)), (vec![id(1)], vec![txn(2)]));
        assert_eq!((names(&waves[1].events), names(&waves[1].partner)), (vec![id(4)], vec![txn(3)]));
        // User 2's unlock (spend and CONTENT_UNLOCK) is one call after their spend; the view
        // that follows it, an event of the next run.
        let unlocks: Vec<_> =
            waves[2].unlocks.iter().flatten().map(|c| (c.request, c.content_id.as_str())).collect();
        assert_eq!(unlocks, [(uuid::Uuid::from_u128(7), "story-01")]);
        assert_eq!((names(&waves[2].events), names(&waves[2].partner)), (vec![id(5)], vec![]));
        assert_eq!((names(&waves[3].events), names(&waves[3].partner)), (vec![id(9)], vec![txn(6)]));
    }
}
