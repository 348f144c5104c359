//! One module per subcommand.

pub mod batch;
pub mod bench;
pub mod bench_models;
pub mod bench_partner;
pub mod bench_rfm;
pub mod bench_soak;
pub mod bench_train;
pub mod content;
pub mod demo;
pub mod export;
pub mod import;
pub mod keys;
pub mod models;
pub mod operators;
pub mod partners;
pub mod policy;
pub mod reconcile;
pub mod replay;
pub mod rollup;
pub mod serve;
pub mod simulate;
