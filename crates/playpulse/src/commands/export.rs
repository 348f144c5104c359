//! `playpulse export`: copies newly committed events from the operational DB into the event
//! lake, exactly once, however often it is interrupted and run again, then merges the small
//! files of busy partitions.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use playpulse_core::time::BusinessZone;
use playpulse_lake::events::{EventLake, ExportRow};
use playpulse_store::{ExportMark, ExportPage, Store};

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

/// How long an export waits for transactions that block newer committed events.
const MAX_WAIT_FOR_PENDING: Duration = Duration::from_secs(30);
const PENDING_POLL: Duration = Duration::from_millis(20);
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
    let report = export(store.as_ref(), &lake_root(&config), zone, args.page).await?;
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
        tokio::time::sleep(PENDING_POLL).await;
    }
    Ok(lock)
}

/// Exports every final event not yet in the lake, `page` events per commit.
pub async fn export(
    store: &dyn Store,
    root: &Path,
    zone: BusinessZone,
    page: usize,
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
    let deadline = Instant::now() + MAX_WAIT_FOR_PENDING;
    loop {
        let ExportPage { events, next, pending } = store.events_after(mark, page).await?;
        if events.is_empty() {
            // Catch up with what was committed when the export started, unless a long
            // transaction elsewhere holds it back: then the rest waits for the next export.
            if pending && Instant::now() < deadline {
                tokio::time::sleep(PENDING_POLL).await;
                continue;
            }
            report.pending = pending;
            break;
        }
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
    report.compacted = lake.compact()?.files;
    Ok(report)
}
