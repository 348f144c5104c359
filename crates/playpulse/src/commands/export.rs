//! `playpulse export`: copies newly committed events from the operational DB into the event
//! lake, exactly once, however often it is interrupted and run again, then merges the small
//! files of busy partitions.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use playpulse_core::time::BusinessZone;
use playpulse_lake::events::{EventLake, ExportRow};
use playpulse_store::{ExportFeed, ExportMark, ExportPage};

use crate::app;
use crate::cli::ExportArgs;
use crate::config::Config;

/// What an export did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub rows: u64,
    pub commits: u64,
    pub files: u64,
    /// Partitions whose files were merged into one at the end.
    pub compacted: u64,
    /// Committed events were left for the next export (a transaction started before them
    /// was still running at the end of the wait).
    pub pending: bool,
}

/// How long the night's export, or an operator's, waits at most for a transaction that was
/// running when it began and holds back events committed before it began (PostgreSQL).
pub const MAX_WAIT_FOR_PENDING: Duration = Duration::from_secs(30);
/// How often a blocked export asks again (each answer may be a small commit of its own).
const PENDING_RECHECK: Duration = Duration::from_millis(500);
/// How often a waiting exporter tries the lake's lock.
const LOCK_POLL: Duration = Duration::from_millis(20);
/// How long an export waits for another one on the same lake to finish.
const MAX_WAIT_FOR_LOCK: Duration = Duration::from_secs(600);

/// The lake lives in the data directory.
pub fn lake_root(config: &Config) -> PathBuf {
    config.store.data_dir.join("lake")
}

pub async fn run(mut config: Config, args: ExportArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    let store = app::open_store(&config).await?;
    let zone = BusinessZone::parse(&config.business.business_tz)?;
    let report = export(store.as_ref(), &lake_root(&config), zone, args.page, MAX_WAIT_FOR_PENDING).await?;
    println!(
        "exported={} commits={} files={} compacted={} pending={}",
        report.rows, report.commits, report.files, report.compacted, report.pending
    );
    Ok(())
}

/// Waits for and takes the lake's writer lock: one exporter or roll-up at a time per lake.
/// The lock goes with the returned file, and with the process however it ends.
pub async fn lock(root: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(root)?;
    let lock = File::create(root.join(".export.lock"))?;
    let waited = Instant::now();
    while lock.try_lock().is_err() {
        anyhow::ensure!(
            waited.elapsed() < MAX_WAIT_FOR_LOCK,
            "another export or roll-up has held {} for too long",
            root.display()
        );
        tokio::time::sleep(LOCK_POLL).await;
    }
    Ok(lock)
}

/// Exports every final event not yet in the lake, `page` events per commit, waiting up to
/// `patience` for events that a running transaction holds back.
pub async fn export(
    feed: &dyn ExportFeed,
    root: &Path,
    zone: BusinessZone,
    page: usize,
    patience: Duration,
) -> anyhow::Result<ExportReport> {
    let _lock = lock(root).await?;
    let mut lake = EventLake::open(root, zone)?;
    let mut mark: ExportMark = lake
        .mark()
        .map(|m| serde_json::from_value(m.clone()))
        .transpose()
        .context("the lake's mark is unreadable")?
        .unwrap_or_default();
    let page = page.clamp(1, playpulse_store::MAX_EXPORT_PAGE);
    let mut report = ExportReport::default();
    let deadline = Instant::now() + patience;
    let mut began: Option<ExportMark> = None;
    loop {
        let ExportPage { events, next, held_back, horizon } = feed.events_after(mark, page).await?;
        let began = *began.get_or_insert(horizon);
        let caught_up = events.len() < page;
        if !events.is_empty() {
            let rows: Vec<ExportRow> = events
                .into_iter()
                .map(|e| ExportRow {
                    seq: e.seq,
                    event_id: e.event_id.to_string(),
                    user_id: e.user_id,
                    event_type: e.event_type,
                    ts_ms: e.ts_ms,
                    props: e.props,
                })
                .collect();
            let committed = lake.commit(&rows, serde_json::to_value(next)?)?;
            report.rows += committed.rows;
            report.files += committed.files;
            report.commits += 1;
            mark = next;
        }
        if !caught_up {
            continue;
        }
        // Everything final when the page was read is in the lake. Under steady ingest there
        // is always more: what committed after the export began is the next export's, or the
        // export would chase it for ever; what committed before it is waited for.
        if held_back.is_some_and(|first| first < began) && Instant::now() < deadline {
            tokio::time::sleep(PENDING_RECHECK).await;
            continue;
        }
        report.pending = held_back.is_some();
        break;
    }
    report.compacted = lake.compact()?.files;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use async_trait::async_trait;
    use playpulse_core::ids::EventId;
    use playpulse_store::{StoreError, StoredEvent};

    use super::*;

    /// A store under steady ingest: every page holds a few events committed since the last
    /// one, and (PostgreSQL's case) a transaction may hold back more, committed before the
    /// export began (`held_back_early`) or after.
    struct Steady {
        held_back_early: Option<bool>,
        seq: AtomicI64,
    }

    #[async_trait]
    impl ExportFeed for Steady {
        async fn events_after(&self, _: ExportMark, _: usize) -> Result<ExportPage, StoreError> {
            let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
            let event = StoredEvent {
                seq,
                event_id: EventId(uuid::Uuid::from_u128(u128::try_from(seq).unwrap())),
                user_id: "u1".into(),
                event_type: "SESSION_START".into(),
                ts_ms: 1_780_000_000_000,
                props: "{}".into(),
            };
            // The horizon moves on with every page, as time does.
            let horizon = ExportMark { txid: seq + 10, seq: 0 };
            let held_back = self
                .held_back_early
                .map(|early| ExportMark { txid: if early { 0 } else { horizon.txid }, seq: 0 });
            Ok(ExportPage { events: vec![event], next: ExportMark { txid: 0, seq }, held_back, horizon })
        }
    }

    async fn export_of(held_back_early: Option<bool>, patience: Duration) -> (ExportReport, Duration) {
        let dir = tempfile::tempdir().unwrap();
        let feed = Steady { held_back_early, seq: AtomicI64::new(0) };
        let started = Instant::now();
        let report = export(&feed, dir.path(), BusinessZone::default(), 100, patience).await.unwrap();
        (report, started.elapsed())
    }

    #[tokio::test]
    async fn an_export_under_steady_ingest_ends_once_caught_up() {
        let (report, _) = export_of(None, MAX_WAIT_FOR_PENDING).await;
        assert_eq!((report.rows, report.commits, report.pending), (1, 1, false), "one short page, then done");
    }

    #[tokio::test]
    async fn what_commits_after_the_export_began_is_not_waited_for() {
        let (report, took) = export_of(Some(false), MAX_WAIT_FOR_PENDING).await;
        assert_eq!((report.rows, report.commits, report.pending), (1, 1, true), "left for the next export");
        assert!(took < PENDING_RECHECK, "{took:?}");
    }

    #[tokio::test]
    async fn events_held_back_are_waited_for_only_as_long_as_asked() {
        let (report, took) = export_of(Some(true), Duration::ZERO).await;
        assert_eq!((report.rows, report.pending), (1, true), "no patience: the first page only");
        assert!(took < PENDING_RECHECK, "{took:?}");
        let (report, took) = export_of(Some(true), Duration::from_secs(1)).await;
        assert!(report.pending, "still held back at the end");
        assert!((2..=4).contains(&report.commits), "asked again every {PENDING_RECHECK:?}: {report:?}");
        assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(3), "{took:?}");
    }
}
