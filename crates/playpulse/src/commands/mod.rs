//! One module per subcommand.

pub mod bench;
pub mod import;
pub mod keys;
pub mod reconcile;
pub mod serve;
