//! `playpulse batch`: the nightly job. Brings the lake up to date, computes RFM over it,
//! assigns segments by the configured rules, stores them with their history, and reports.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::Context;
use jiff::Timestamp;
use jiff::civil::Date;
use playpulse_cache::HotCache;
use playpulse_core::ids::UserId;
use playpulse_core::ingest::{MAX_EVENTS_PER_BATCH, Outcome};
use playpulse_core::rewards::{self, Upgrade};
use playpulse_core::segments::SegmentReport;
use playpulse_core::time::{BusinessZone, Clock, EPOCH_DAY, SystemClock, epoch_day};
use playpulse_lake::analytics::{Analytics, RfmQuery, UserFigures};
use playpulse_lake::nights::{NightRow, write_night};
use playpulse_policy::arms::{Outcomes, ProposalId, arms_of};
use playpulse_store::{Arm, Hours, Store, StoredSegment};

use crate::app;
use crate::cli::BatchArgs;
use crate::commands::export::{lake_root, lock};
use crate::commands::rollup::{self, secs};
use crate::config::Config;
use crate::schedule::{self, Night};
pub mod notices;

/// The `from` of users who had no segment before.
pub const NEW: &str = "(new)";

pub async fn run(mut config: Config, args: BatchArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    args.cache.apply(&mut config);
    let store = app::open_store(&config).await?;
    let cache = app::open_cache(&config).await?;
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let clock = SystemClock;
    let as_of = match args.as_of {
        Some(day) => day,
        None => zone.day_of(clock.now()).yesterday()?,
    };
    // The same claim and record as the schedule's, so the two never run one night at once.
    match schedule::run_night(store.as_ref(), cache.as_deref(), &config, &clock, as_of).await? {
        Night::Ran(report) => print!("{}", render(as_of, &report)),
        Night::Failed(err) => return Err(err),
        Night::Taken => anyhow::bail!(
            "the night {as_of} is running or has run already (see GET /v1/jobs); a failed night can be run again"
        ),
    }
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
    if let Some(scoring) = &report.churn_scoring {
        out.push_str(&format!(
            "churn_scoring version={} users={} invited={}\n",
            scoring["version"], scoring["users"], scoring["invited"]
        ));
        for skipped in scoring["passed_over"].as_array().into_iter().flatten() {
            out.push_str(&format!("  passed over version {}: {}\n", skipped["version"], skipped["why"]));
        }
    }
    if let Some(value) = &report.value_scoring {
        let ways: Vec<String> = value["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{}:{}",
                    t["target"].as_str().unwrap_or_default(),
                    t["chosen"].as_str().unwrap_or_default()
                )
            })
            .collect();
        out.push_str(&format!(
            "value_scoring version={} ways={} whale_candidates={}\n",
            value["version"],
            ways.join(","),
            value["whale_candidates"]
        ));
    }
    out
}

/// Runs the batch as of `as_of` (a business day, not after today at `now`): stores its
/// results in one transaction, rewards the upgrades the store recorded through the ledger
/// and notifies them; the hot cache, if any, gets the new balances.
pub async fn batch(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    as_of: Date,
    now: Timestamp,
) -> anyhow::Result<SegmentReport> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    check_as_of(as_of, &zone, now)?;
    crate::privacy::finish_erasures(store, cache, &lake_root(config), now)
        .await
        .context("pending erasures")?;
    let (analytics, _) =
        rollup::update(store, config, None).await.context("the lake's export and rollups")?;
    let as_of_day = epoch_day(as_of);
    let segments = &config.segments;
    // The window and what F counts are the rollups' settings (`Config::rollup_settings`).
    let query = RfmQuery { as_of_day, monetary: segments.monetary };
    let started = Instant::now();
    let figures = analytics.rfm(&query).await?;
    let previous = store.segments().await?;
    let rules = config.segments.rules();
    let mut report = SegmentReport::default();
    let mut rows = Vec::with_capacity(figures.len());
    let risk: HashMap<UserId, String> = store.risk_profiles().await?.into_iter().collect();
    let mut nights = Vec::with_capacity(figures.len());
    for UserFigures { user_id: user, rfm, balance, tokens_spent } in figures {
        let user = user_id(&user)?;
        if user.is_pseudonym() {
            // An erased user's rows count in the totals, but they are nobody's segment.
            continue;
        }
        let assignment = rules.assign(&rfm, balance);
        let before = previous.get(user.as_str());
        let since = match before {
            Some(b) if b.segment == assignment.segment => b.since,
            _ => as_of,
        };
        *report.users.entry(assignment.segment.clone()).or_default() += 1;
        let from = before.map_or(NEW.to_owned(), |b| b.segment.clone());
        *report.transitions.entry((from, assignment.segment.clone())).or_default() += 1;
        report.between_bands += u64::from(assignment.between_bands);
        let segment = StoredSegment {
            segment: assignment.segment,
            rule_index: assignment.rule.and_then(|r| i64::try_from(r).ok()),
            rfm,
            balance,
            as_of,
            since,
        };
        nights.push(NightRow {
            user_id: user.to_string(),
            segment: segment.segment.clone(),
            risk_profile: risk.get(&user).cloned(),
            recency_days: rfm.recency_days,
            frequency: rfm.frequency,
            monetary: rfm.monetary,
            tokens_spent,
        });
        rows.push((user, segment));
    }
    let segment_of: HashMap<&str, &str> =
        rows.iter().map(|(u, s)| (u.as_str(), s.segment.as_str())).collect();
    let (user_hours, segment_hours) = hours(&analytics, &segment_of, as_of_day, segments.window_days).await?;
    let arms = arms(&analytics, as_of_day, config).await?;
    let night = playpulse_store::Night { as_of, segments: rows, user_hours, segment_hours, arms };
    tracing::info!(users = night.segments.len(), seconds = secs(started), "RFM, segments, hours and arms");
    let started = Instant::now();
    let transitions = store.save_night(night).await?;
    let root = lake_root(config);
    let _lock = lock(&root).await?;
    write_night(&root, as_of_day, &nights).context("the night's assignments in the lake")?;
    let moves = notices::segment_moves(store, &config.notify.segment_moves, as_of, &transitions, now).await?;
    let reminders = notices::streak_reminders(store, config, as_of, now).await?;
    report.churn_scoring = crate::models::scoring::churn_night(store, config, &analytics, &root, as_of, now)
        .await
        .context("the night's churn scores")?;
    report.value_scoring = crate::models::value::value_night(store, config, &analytics, &root, as_of, now)
        .await
        .context("the night's value forecasts")?;
    let upgrades = rewards::upgrades(&rules, transitions.into_iter().map(|t| (t.user, t.from, t.to)));
    report.upgrades = upgrades.len() as u64;
    report.rewards_granted = reward(store, cache, config, as_of, &upgrades, now).await?;
    tracing::info!(
        upgrades = report.upgrades,
        moves,
        reminders,
        seconds = secs(started),
        "the night's results stored and rewarded"
    );
    Ok(report)
}

/// A night looks back, never ahead: its business day is from 1970-01-01 to today. A night
/// dated later would store segments that block every real night after it.
pub fn check_as_of(as_of: Date, zone: &BusinessZone, now: Timestamp) -> anyhow::Result<()> {
    let today = zone.day_of(now);
    anyhow::ensure!(
        (EPOCH_DAY..=today).contains(&as_of),
        "--as-of {as_of} is outside {EPOCH_DAY} ..= {today} (today in {}): a night can only look back",
        zone.name()
    );
    Ok(())
}

fn user_id(text: &str) -> anyhow::Result<UserId> {
    UserId::parse(text).map_err(|_| anyhow::anyhow!("the lake holds an invalid user id {text:?}"))
}

/// Each user's activity by business hour, and each segment's (the sum of its users'), for
/// the best time window.
async fn hours(
    analytics: &Analytics,
    segment_of: &HashMap<&str, &str>,
    as_of_day: i32,
    window_days: u32,
) -> anyhow::Result<(Vec<(UserId, Hours)>, Vec<(String, Hours)>)> {
    let mut users = Vec::new();
    let mut segments: BTreeMap<String, Hours> = BTreeMap::new();
    for (user, hours) in analytics.hours(as_of_day, window_days).await? {
        if let Some(segment) = segment_of.get(user.as_str()) {
            let total = segments.entry((*segment).to_owned()).or_insert([0; 24]);
            total.iter_mut().zip(hours).for_each(|(t, h)| *t += h);
        }
        users.push((user_id(&user)?, hours));
    }
    Ok((users, segments.into_iter().collect()))
}

/// Sums the outcomes of the proposals shown inside the learning window into the arms the
/// recommendations learn from. Ids another policy wrote, and ids not signed with this
/// deployment's `proposals.id_key` (forged by whoever sent the outcome events), are left out.
async fn arms(analytics: &Analytics, as_of_day: i32, config: &Config) -> anyhow::Result<Vec<Arm>> {
    let outcomes = analytics.proposal_outcomes(as_of_day, config.learning.window_days).await?;
    let proposals = outcomes.into_iter().filter_map(|(id, shown, converted)| {
        let outcomes =
            Outcomes { impressions: u64::try_from(shown).ok()?, conversions: u64::try_from(converted).ok()? };
        Some((ProposalId::issued_by(&id, &config.proposals)?, outcomes))
    });
    Ok(arms_of(proposals)
        .into_iter()
        .map(|((segment, kind, variant), stats)| Arm {
            segment,
            kind,
            variant,
            impressions: i64::try_from(stats.impressions).unwrap_or(i64::MAX),
            conversions: i64::try_from(stats.conversions).unwrap_or(i64::MAX),
        })
        .collect())
}

/// Grants each upgrade's reward through the ledger ([`rewards::reward_event`]: a re-run
/// finds it a duplicate) and enqueues its notification under the same key.
async fn reward(
    store: &dyn Store,
    cache: Option<&HotCache>,
    config: &Config,
    as_of: Date,
    upgrades: &[Upgrade],
    now: Timestamp,
) -> anyhow::Result<u64> {
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let amount = config.segments.upgrade_reward_tokens;
    let mut granted = 0;
    for chunk in upgrades.chunks(MAX_EVENTS_PER_BATCH) {
        if amount > 0 {
            let batch = chunk.iter().map(|u| rewards::reward_event(u, as_of, amount, &zone, now)).collect();
            let answer = store.ingest(batch, now).await?;
            playpulse_server::monitoring::record_flows(&answer.flows);
            granted += answer.outcomes.iter().filter(|o| **o == Outcome::Accepted).count() as u64;
            if let Some(cache) = cache {
                cache.put(&answer.users).await;
            }
        }
        let notes = chunk.iter().map(|u| rewards::notification(u, as_of, amount)).collect();
        store.enqueue(notes, now).await?;
    }
    Ok(granted)
}
