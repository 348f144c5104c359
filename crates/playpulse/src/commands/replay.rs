//! Replays a simulated history through the paths a live deployment uses: the app's server
//! posts its events, and partner A signs and posts its visits and rewards itself.
//!
//! Only each user's own order matters to the ledger (a reward must land before the spends
//! it pays for), so the history is cut per user into runs of one route, and the k-th runs of
//! all users go together ("waves"): big batches, each user's events in order.

use std::collections::HashMap;

use anyhow::anyhow;
use playpulse_core::ingest::MAX_EVENTS_PER_BATCH;
use playpulse_core::partner::{MAX_EVENTS_PER_REQUEST, PartnerId, sign};
use playpulse_server::AppState;
use playpulse_server::events::ingest_values;
use playpulse_server::partners::{Signed, ingest_signed};
use playpulse_sim::event::SimEvent;
use serde_json::{Value, json};

use crate::commands::simulate::progress_bar;

/// Ingest lanes run side by side; each carries a fixed share of the users.
const LANES: usize = 4;

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
}

impl std::ops::AddAssign for Replayed {
    fn add_assign(&mut self, other: Self) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.partner_events += other.partner_events;
    }
}

/// Sends the history (in time order) through the event and partner routes.
pub async fn replay(
    state: &AppState,
    partner: &PartnerKey,
    events: Vec<SimEvent>,
) -> anyhow::Result<Replayed> {
    let bar = progress_bar(events.len() as u64, "ingest");
    let mut lanes: Vec<Vec<SimEvent>> = vec![Vec::new(); LANES];
    for event in events {
        lanes[event.user as usize % LANES].push(event);
    }
    let work = lanes.into_iter().map(|lane| {
        let (state, partner, bar) = (state.clone(), partner.clone(), bar.clone());
        tokio::spawn(async move {
            let mut total = Replayed::default();
            for wave in waves(lane) {
                let sent = (wave.events.len() + wave.partner.len()) as u64;
                total += send_wave(&state, &partner, wave).await?;
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

/// One wave: the app's events and the partner's, each user's in order.
#[derive(Default)]
struct Wave {
    events: Vec<Value>,
    partner: Vec<Value>,
}

fn waves(lane: Vec<SimEvent>) -> Vec<Wave> {
    // Each user's runs: maximal stretches of one route.
    let mut runs: HashMap<u32, Vec<(bool, Vec<Value>)>> = HashMap::new();
    let mut order = Vec::new();
    for event in lane {
        let (by_partner, value) = match event.partner_event() {
            Some(value) => (true, value),
            None => (false, event.envelope()),
        };
        let user = runs.entry(event.user).or_insert_with(|| {
            order.push(event.user);
            Vec::new()
        });
        match user.last_mut() {
            Some((route, run)) if *route == by_partner => run.push(value),
            _ => user.push((by_partner, vec![value])),
        }
    }
    let mut waves: Vec<Wave> = Vec::new();
    for user in order {
        for (k, (by_partner, run)) in runs.remove(&user).unwrap_or_default().into_iter().enumerate() {
            if waves.len() <= k {
                waves.push(Wave::default());
            }
            let wave = &mut waves[k];
            if by_partner { wave.partner.extend(run) } else { wave.events.extend(run) }
        }
    }
    waves
}

async fn send_wave(state: &AppState, partner: &PartnerKey, wave: Wave) -> anyhow::Result<Replayed> {
    let mut sent = Replayed::default();
    for chunk in wave.events.chunks(MAX_EVENTS_PER_BATCH) {
        let answer = ingest_values(state, chunk.to_vec())
            .await
            .map_err(|e| anyhow!("ingest failed: {}: {}", e.code, e.detail))?;
        sent.accepted += answer.accepted as u64;
        sent.rejected += answer.rejected as u64;
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
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use playpulse_sim::event::Kind;

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
        assert_eq!((names(&waves[2].events), names(&waves[2].partner)), (vec![id(5)], vec![]));
        assert_eq!((names(&waves[3].events), names(&waves[3].partner)), (vec![], vec![txn(6)]));
    }
}
