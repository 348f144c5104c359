//! `playpulse batch`: the nightly job. Brings the lake up to date, computes RFM over it,
//! assigns segments by the configured rules, stores them with their history, and reports.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use jiff::civil::Date;
use playpulse_cache::HotCache;
use playpulse_core::event::{Event, ValidationPolicy};
use playpulse_core::ids::UserId;
use playpulse_core::ingest::{MAX_EVENTS_PER_BATCH, Outcome};
use playpulse_core::notify;
use playpulse_core::segments::SegmentReport;
use playpulse_core::time::BusinessZone;
use playpulse_lake::analytics::{Analytics, RfmQuery, UserFigures};
use playpulse_policy::arms::{Outcomes, ProposalId, arms_of};
use playpulse_store::{Arm, Hours, Store, StoredSegment};
use serde_json::json;
use uuid::Uuid;

use crate::app;
use crate::cli::BatchArgs;
use crate::commands::export::{export, lake_root};
use crate::config::Config;

/// Users whose hours one store call writes.
const HOURS_PER_WRITE: usize = 5_000;
/// The `from` of users who had no segment before.
pub const NEW: &str = "(new)";

pub async fn run(mut config: Config, args: BatchArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    args.cache.apply(&mut config);
    let store = app::open_store(&config).await?;
    let cache = app::open_cache(&config).await?;
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let as_of = match args.as_of {
        Some(day) => day,
        None => zone.day_of(jiff::Timestamp::now()).yesterday()?,
    };
    let report = batch(store.as_ref(), cache.as_deref(), &config, as_of).await?;
    print!("{}", render(as_of, &report));
    Ok(())
}

/// The report as lines: one a script can parse, then the transitions.
pub fn render(as_of: Date, report: &SegmentReport) -> String {
    let users: u64 = report.users.values().sum();
    let counts: Vec<String> = report.users.iter().map(|(s, n)| format!("{s}:{n}")).collect();
    let mut out = format!(
        "batch as_of={as_of} users={users} segments={} between_bands={} upgrades={} rewards_granted={}\n",
        counts.join(","),
        report.between_bands,
        report.upgrades,
        report.rewards_granted
    );
    for ((from, to), n) in &report.transitions {
        out.push_str(&format!("  {from} -> {to}: {n}\n"));
    }
    out
}

/// Runs the batch as of `as_of` (a business day): stores its segments, rewards upgrades
/// through the ledger and notifies them; the hot cache, if any, gets the new balances.
pub async fn batch(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    as_of: Date,
) -> anyhow::Result<SegmentReport> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let root = lake_root(config);
    export(store, &root, zone, playpulse_store::MAX_EXPORT_PAGE).await.context("export to the lake")?;
    let analytics = Analytics::open(&root).await?;
    let as_of_day = jiff::civil::date(1970, 1, 1).until(as_of)?.get_days();
    let segments = &config.segments;
    let query = RfmQuery {
        as_of_day,
        window_days: segments.window_days,
        frequency_types: &segments.frequency_types,
        monetary: segments.monetary,
    };
    let figures = analytics.rfm(&query).await?;
    let previous = store.segments().await?;
    let rules = config.segments.rules();
    let mut report = SegmentReport::default();
    let mut rows = Vec::with_capacity(figures.len());
    let mut upgrades = Vec::new();
    for UserFigures { user_id: user, rfm, balance } in figures {
        let assignment = rules.assign(&rfm, balance);
        let before = previous.get(&user);
        let since = match before {
            Some(b) if b.segment == assignment.segment => b.since,
            _ => as_of,
        };
        *report.users.entry(assignment.segment.clone()).or_default() += 1;
        let from = before.map_or(NEW.to_owned(), |b| b.segment.clone());
        *report.transitions.entry((from, assignment.segment.clone())).or_default() += 1;
        report.between_bands += u64::from(assignment.between_bands);
        let id = UserId::parse(&user)
            .map_err(|_| anyhow::anyhow!("the lake holds an invalid user id {user:?}"))?;
        if let Some(b) = before.filter(|b| rules.rank(&assignment.segment) < rules.rank(&b.segment)) {
            upgrades.push((id.clone(), b.segment.clone(), assignment.segment.clone()));
        }
        rows.push((
            id,
            StoredSegment {
                segment: assignment.segment,
                rule_index: assignment.rule.and_then(|r| i64::try_from(r).ok()),
                rfm,
                balance,
                as_of,
                since,
            },
        ));
    }
    let segment_of: HashMap<String, String> =
        rows.iter().map(|(user, s)| (user.to_string(), s.segment.clone())).collect();
    store.save_segments(rows).await?;
    save_hours(store, &analytics, &segment_of, as_of_day, as_of, segments.window_days).await?;
    save_arms(store, &analytics, as_of_day, as_of, config).await?;
    report.upgrades = upgrades.len() as u64;
    report.rewards_granted = reward(store, cache, config, as_of, &upgrades).await?;
    Ok(report)
}

/// Stores each user's activity by business hour, and each segment's (the sum of its
/// users'), for the best time window.
async fn save_hours(
    store: &dyn Store,
    analytics: &Analytics,
    segment_of: &HashMap<String, String>,
    as_of_day: i32,
    as_of: Date,
    window_days: u32,
) -> anyhow::Result<()> {
    let mut users = Vec::new();
    let mut segments: BTreeMap<String, Hours> = BTreeMap::new();
    for (user, hours) in analytics.hours(as_of_day, window_days).await? {
        if let Some(segment) = segment_of.get(&user) {
            let total = segments.entry(segment.clone()).or_insert([0; 24]);
            total.iter_mut().zip(hours).for_each(|(t, h)| *t += h);
        }
        let id = UserId::parse(&user)
            .map_err(|_| anyhow::anyhow!("the lake holds an invalid user id {user:?}"))?;
        users.push((id, hours));
    }
    for chunk in users.chunks(HOURS_PER_WRITE) {
        store.save_hours(chunk.to_vec(), Vec::new(), as_of).await?;
    }
    store.save_hours(Vec::new(), segments.into_iter().collect(), as_of).await?;
    Ok(())
}

/// Sums the outcomes of the proposals shown inside the learning window into the arms the
/// recommendations learn from. Ids another policy wrote, and ids not signed with this
/// deployment's `proposals.id_key` (forged by whoever sent the outcome events), are left out.
async fn save_arms(
    store: &dyn Store,
    analytics: &Analytics,
    as_of_day: i32,
    as_of: Date,
    config: &Config,
) -> anyhow::Result<()> {
    let outcomes = analytics.proposal_outcomes(as_of_day, config.learning.window_days).await?;
    let proposals = outcomes.into_iter().filter_map(|(id, shown, converted)| {
        let outcomes =
            Outcomes { impressions: u64::try_from(shown).ok()?, conversions: u64::try_from(converted).ok()? };
        Some((ProposalId::issued_by(&id, &config.proposals)?, outcomes))
    });
    let arms = arms_of(proposals)
        .into_iter()
        .map(|((segment, kind, variant), stats)| Arm {
            segment,
            kind: kind.as_str().to_owned(),
            variant,
            impressions: i64::try_from(stats.impressions).unwrap_or(i64::MAX),
            conversions: i64::try_from(stats.conversions).unwrap_or(i64::MAX),
        })
        .collect();
    store.save_arms(arms, as_of).await?;
    Ok(())
}

/// Grants each upgrade's reward as a ledger event whose id derives from (batch day, user),
/// so a re-run finds it a duplicate, and enqueues its notification under the same key.
async fn reward(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    as_of: Date,
    upgrades: &[(UserId, String, String)],
) -> anyhow::Result<u64> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let amount = config.segments.upgrade_reward_tokens;
    // Stamped at the last second of the batch day, so a backfill lands on its own day.
    let ts = as_of.tomorrow()?.to_zoned(zone.tz().clone())?.timestamp() - jiff::SignedDuration::from_secs(1);
    let now = jiff::Timestamp::now();
    let day = as_of.to_string();
    let mut granted = 0;
    for chunk in upgrades.chunks(MAX_EVENTS_PER_BATCH) {
        if amount > 0 {
            let batch: Vec<_> = chunk
                .iter()
                .map(|(user, _, _)| {
                    let key = notify::upgrade_key(user, &day);
                    let raw = json!({
                        "event_id": Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes()).to_string(),
                        "user_id": user.as_str(),
                        "type": "EARN_CYBER_TOKENS",
                        "ts": ts.to_string(),
                        "props": {"amount": amount, "source": "reward", "reward_id": "segment-upgrade"},
                    });
                    Event::parse(&raw, &ValidationPolicy::default(), now)
                })
                .collect();
            let answer = store.ingest(batch, now).await?;
            granted += answer.outcomes.iter().filter(|o| **o == Outcome::Accepted).count() as u64;
            if let Some(cache) = cache {
                cache.put(&answer.users).await;
            }
        }
        let notes =
            chunk.iter().map(|(user, from, to)| notify::segment_upgrade(user, &day, from, to, amount));
        store.enqueue(notes.collect()).await?;
    }
    Ok(granted)
}
