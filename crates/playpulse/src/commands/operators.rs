//! `playpulse operators`: the operator team's dashboard accounts.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use playpulse_core::operators::{Role, check_name, hash_password};
use playpulse_core::time::{Clock, SystemClock};
use playpulse_store::OperatorRecord;
use rand::distr::{Alphanumeric, SampleString};

use crate::app;
use crate::cli::StoreArgs;
use crate::config::Config;

/// Characters of a generated password: about 119 bits from [A-Za-z0-9].
const GENERATED_PASSWORD_CHARS: usize = 20;

#[derive(Subcommand)]
pub enum OperatorsCommand {
    /// Create an account. Without --password-stdin a password is generated and printed once.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Login name: lower-case letters, digits, '.', '_', '-' and '@'.
        #[arg(long)]
        name: String,
        /// viewer (reads every page) or admin (also acts: retries jobs, revokes keys, sets limits).
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts (never their password hashes).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(mut config: Config, command: OperatorsCommand) -> anyhow::Result<()> {
    match command {
        OperatorsCommand::Create { store, name, role, password_stdin } => {
            store.apply(&mut config);
            let role: Role = role.parse()?;
            check_name(&name)?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("cannot read the password")?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (generate_password(), true)
            };
            let store = app::open_store(&config).await?;
            let created = create(store.as_ref(), &name, role, &password, SystemClock.now()).await?;
            if !created {
                bail!("an operator named {name} exists already");
            }
            if generated {
                eprintln!("Keep this password now: it is shown only once.");
                println!("{password}");
            }
            eprintln!("operator={name} role={role}");
        }
        OperatorsCommand::List { store } => {
            store.apply(&mut config);
            let store = app::open_store(&config).await?;
            for o in store.operators().await? {
                let locked = o.locked_until.map(|t| t.to_string()).unwrap_or_else(|| "no".into());
                println!(
                    "operator={} role={} created={} failed_logins={} locked_until={locked}",
                    o.name, o.role, o.created_at, o.failed_logins
                );
            }
        }
    }
    Ok(())
}

/// A new random password (about 119 bits).
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), GENERATED_PASSWORD_CHARS)
}

/// Creates an account with the Argon2id hash of `password`; `false` if the name is taken.
pub async fn create(
    store: &dyn playpulse_store::Store,
    name: &str,
    role: Role,
    password: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    check_name(name)?;
    let password_hash = hash_password(password)?;
    let record = OperatorRecord {
        name: name.to_owned(),
        password_hash,
        role,
        created_at: now,
        failed_logins: 0,
        locked_until: None,
    };
    Ok(store.create_operator(record).await?)
}
