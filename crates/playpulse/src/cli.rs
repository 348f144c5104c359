//! The command line: one binary, one subcommand per job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(name = "playpulse", version, about = "LiveOps engine for virtual-currency apps")]
pub struct Cli {
    /// Config file (default: config/playpulse.toml if it exists).
    #[arg(long, global = true, env = "PLAYPULSE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Create, list or revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The operator team's dashboard accounts (viewer or admin).
    #[command(subcommand)]
    Operators(crate::commands::operators::OperatorsCommand),
    /// Register partners that call playpulse themselves; rotate, disable or cap them.
    #[command(subcommand)]
    Partners(crate::commands::partners::PartnersCommand),
    /// Import events from a JSONL, CSV or Parquet file through the ingest path.
    Import(ImportArgs),
    /// The nightly job: update the lake, compute RFM, assign and store segments.
    Batch(BatchArgs),
    /// Copy newly committed events into the Parquet event lake (exactly once).
    Export(ExportArgs),
    /// Bring the lake up to date and roll up the days that received events since the last
    /// roll-up; `--rebuild` recomputes days from the events.
    Rollup(RollupArgs),
    /// Compare the Redis hot cache with the ledger and repair drift.
    Reconcile(ReconcileArgs),
    /// Write a synthetic event history with its ground truth.
    Simulate(SimulateArgs),
    /// Simulate, ingest and serve: the whole product on this machine in one command.
    Demo(DemoArgs),
    /// The proposal policy's learning loop.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The content catalog.
    #[command(subcommand)]
    Content(ContentCommand),
    /// Train a predictive model on the lake and store it as a new version.
    #[command(subcommand)]
    Train(crate::commands::models::TrainCommand),
    /// The stored model versions and how each measured.
    #[command(subcommand)]
    Models(crate::commands::models::ModelsCommand),
}

#[derive(Subcommand)]
pub enum ContentCommand {
    /// Create or update every item of a JSON file (an array of items), or none if any is
    /// invalid; prints `created=N updated=N unchanged=N`.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The catalog file (see config/content.example.json).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Estimate offline (inverse propensity, self-normalized, doubly robust) how a candidate
    /// policy would have converted on the logged proposals.
    Evaluate(EvaluateArgs),
}

/// A policy to evaluate.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Candidate {
    /// Always the first variant of each type (the seed's texts).
    Static,
    /// The learning loop's probabilities, as learned from these logs.
    Learned,
    /// Always the variant with the best posterior mean.
    Greedy,
}

#[derive(Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t = Candidate::Static)]
    pub candidate: Candidate,
    /// Last business day of the logs (default: today in the business zone).
    #[arg(long)]
    pub as_of: Option<jiff::civil::Date>,
    /// Business days of logs (default: learning.window_days).
    #[arg(long)]
    pub window_days: Option<u32>,
}

/// The population to simulate.
#[derive(Args, Clone)]
pub struct PopulationArgs {
    /// Users to simulate.
    #[arg(long, default_value_t = 20_000)]
    pub users: u32,
    /// Business days of history.
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    /// Seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// First business day (YYYY-MM-DD); default: `--days` before today.
    #[arg(long)]
    pub start: Option<jiff::civil::Date>,
}

#[derive(Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub population: PopulationArgs,
    /// Folder for events.jsonl, events.parquet and truth.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// As-of day of the ground truth (default: the last day of the window).
    #[arg(long)]
    pub as_of: Option<jiff::civil::Date>,
    /// Also send one overdraft per hundred users, which the ledger must reject.
    #[arg(long)]
    pub inject_overdrafts: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub population: PopulationArgs,
    /// Folder of the demo's own database, wiped at every run (default ./playpulse-demo).
    #[arg(long, default_value = "./playpulse-demo")]
    pub data_dir: PathBuf,
    /// Address to serve on.
    #[arg(long, env = "PLAYPULSE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// Where the operational store is; the same options on every command that touches it.
#[derive(Args, Clone, Default)]
pub struct StoreArgs {
    /// Database URL: postgres://… or sqlite://PATH (default: SQLite in the data dir).
    #[arg(long, env = "PLAYPULSE_DB")]
    pub db: Option<String>,
    /// Data directory (default ./playpulse-data).
    #[arg(long, env = "PLAYPULSE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl StoreArgs {
    pub fn apply(&self, config: &mut Config) {
        if let Some(db) = &self.db {
            config.store.db.clone_from(db);
        }
        if let Some(dir) = &self.data_dir {
            config.store.data_dir.clone_from(dir);
        }
    }
}

/// The Redis option, on every command that uses the cache.
#[derive(Args, Clone, Default)]
pub struct CacheArgs {
    /// Redis URL of the hot cache, e.g. redis://127.0.0.1:6379 (default: none).
    #[arg(long, env = "PLAYPULSE_REDIS")]
    pub redis: Option<String>,
}

impl CacheArgs {
    pub fn apply(&self, config: &mut Config) {
        if let Some(redis) = &self.redis {
            config.cache.redis.clone_from(redis);
        }
    }
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "PLAYPULSE_LISTEN")]
    pub listen: Option<String>,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// ingest, read or admin; repeat or separate with commas.
        #[arg(long, required = true, value_delimiter = ',')]
        scope: Vec<String>,
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id (the part after `pp_`).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        key_id: String,
    },
    /// Make a new key sign player tokens; the previous one verifies for an hour more.
    RotatePlayerKey {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// A .jsonl/.ndjson, .csv or .parquet file of events.
    pub file: PathBuf,
}

#[derive(Args)]
pub struct BatchArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Business day to compute as of (default: yesterday in the business zone).
    #[arg(long)]
    pub as_of: Option<jiff::civil::Date>,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Events per commit (each commit is one manifest and one file per business day).
    #[arg(long, default_value_t = 200_000)]
    pub page: usize,
}

#[derive(Args)]
pub struct RollupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Recompute the rollups of every day from `--from` to `--to` (default: all) from the
    /// events, whether or not they changed.
    #[arg(long)]
    pub rebuild: bool,
    /// First day to rebuild (with `--rebuild`).
    #[arg(long, requires = "rebuild")]
    pub from: Option<jiff::civil::Date>,
    /// Last day to rebuild (with `--rebuild`).
    #[arg(long, requires = "rebuild")]
    pub to: Option<jiff::civil::Date>,
}

#[derive(Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput and latency over HTTP, against the raw insert ceiling.
    Ingest(BenchIngestArgs),
    /// Signed partner rewards per second over HTTP, against plain single-event ingest.
    Partner(crate::commands::bench_partner::BenchPartnerArgs),
    /// Write a large synthetic lake for the RFM benchmark (`bench/rfm.py` drives it).
    Lake(BenchLakeArgs),
    /// Time the RFM query over a lake with the embedded engine.
    Rfm(BenchRfmArgs),
    /// Time a full rebuild of the rollups, an incremental night and the KPI queries over a
    /// lake (`bench/analytics.py` drives it).
    Nightly(BenchNightlyArgs),
    /// A mixed load at a share of the measured capacity for minutes, the nightly batch in the
    /// middle: memory, open files, errors and p99 per window.
    Soak(BenchSoakArgs),
    /// The churn and spend models against the simulator's truth, on populations of several seeds.
    Models(crate::commands::bench_models::BenchModelsArgs),
    /// The churn model's feature build, training and scoring for a million synthetic users:
    /// seconds and peak memory.
    Train(crate::commands::bench_train::BenchTrainArgs),
}

#[derive(Args)]
pub struct BenchSoakArgs {
    /// How long the load is held, in minutes.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// The load as a share of the capacity measured first.
    #[arg(long, default_value_t = 0.7)]
    pub share: f64,
    /// Seconds the capacity is measured for.
    #[arg(long, default_value_t = 30)]
    pub capacity_s: u64,
    /// Events stored before the capacity is measured: a store as a deployment holds, whose
    /// indexes no longer fit in the cache, not an empty one.
    #[arg(long, default_value_t = 1_000_000)]
    pub prefill: usize,
    /// Seconds per reported window.
    #[arg(long, default_value_t = 30)]
    pub window_s: u64,
    /// Users the load spreads over (each seeded with tokens first).
    #[arg(long, default_value_t = 20_000)]
    pub users: usize,
    /// Events per ingest request.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// PostgreSQL server URL (a scratch database is created and dropped); omit to skip.
    #[arg(long, env = "PLAYPULSE_BENCH_PG")]
    pub pg: Option<String>,
    /// Redis URL used as hot cache in the PostgreSQL run; omit for none.
    #[arg(long, env = "PLAYPULSE_BENCH_REDIS")]
    pub redis: Option<String>,
    /// Soak PostgreSQL alone (with `--pg`), without the SQLite run before it.
    #[arg(long, requires = "pg")]
    pub skip_sqlite: bool,
}

#[derive(Args)]
pub struct BenchNightlyArgs {
    /// Folder of the lake.
    #[arg(long)]
    pub lake: PathBuf,
    /// The new day: an incremental night rolls it up and computes RFM as of it.
    #[arg(long, default_value = "2026-04-01")]
    pub as_of: jiff::civil::Date,
    /// Days the KPI queries cover, ending on `--as-of`.
    #[arg(long, default_value_t = 90)]
    pub kpi_days: u32,
    /// Runs of each KPI query (the p99 is of these).
    #[arg(long, default_value_t = 20)]
    pub kpi_runs: usize,
}

#[derive(Args)]
pub struct BenchLakeArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub users: u32,
    #[arg(long, default_value_t = 100_000_000)]
    pub events: u64,
    /// Business days the events spread over, ending on `--last-day`.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Last business day (YYYY-MM-DD).
    #[arg(long, default_value = "2026-03-31")]
    pub last_day: jiff::civil::Date,
    /// Folder of the lake (its `events/` is written; a lake already there is added to).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the generator: give an added day another one.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Args)]
pub struct BenchRfmArgs {
    /// Folder of the lake.
    #[arg(long)]
    pub lake: PathBuf,
    #[arg(long, default_value = "2026-03-31")]
    pub as_of: jiff::civil::Date,
    #[arg(long, default_value_t = 30)]
    pub window_days: u32,
}

#[derive(Args)]
pub struct BenchIngestArgs {
    /// Events sent through HTTP per backend.
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Distinct users the events spread over.
    #[arg(long, default_value_t = 20_000)]
    pub users: usize,
    /// Events per HTTP batch.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Single-event requests timed one after another for p50/p99.
    #[arg(long, default_value_t = 2_000)]
    pub single: usize,
    /// PostgreSQL server URL (a scratch database is created and dropped); omit to skip.
    #[arg(long, env = "PLAYPULSE_BENCH_PG")]
    pub pg: Option<String>,
    /// Redis URL used as hot cache in the PostgreSQL run (production shape); omit for none.
    #[arg(long, env = "PLAYPULSE_BENCH_REDIS")]
    pub redis: Option<String>,
}
