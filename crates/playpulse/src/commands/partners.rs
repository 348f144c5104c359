//! `playpulse partners`: register partners that call playpulse themselves, and manage their
//! secrets, state and caps.

use anyhow::{Context, ensure};
use clap::Subcommand;
use jiff::SignedDuration;
use playpulse_core::partner::{PartnerId, RewardCaps};
use playpulse_core::time::{Clock, SystemClock};
use playpulse_store::{PartnerRecord, Store};
use rand::RngCore;

use crate::app;
use crate::cli::StoreArgs;
use crate::config::Config;

#[derive(Subcommand)]
pub enum PartnersCommand {
    /// Register a partner and print its signing secret once.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// The partner's name, e.g. A.
        #[arg(long)]
        name: String,
        /// Its id in URLs (default: the name in lower case, spaces as dashes).
        #[arg(long)]
        id: Option<String>,
    },
    /// List partners (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print a new secret once; the previous one keeps signing for the overlap.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        /// Hours the previous secret stays valid (default: partners.rotation_overlap_h).
        #[arg(long)]
        overlap_h: Option<u32>,
    },
    /// Refuse every request of a partner from now on.
    Disable {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
    /// Accept a disabled partner's requests again.
    Enable {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
    /// Set a partner's reward caps in tokens; a cap left out does not apply.
    Caps {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        #[arg(long)]
        partner_daily: Option<i64>,
        #[arg(long)]
        partner_monthly: Option<i64>,
        #[arg(long)]
        user_daily: Option<i64>,
        #[arg(long)]
        user_monthly: Option<i64>,
    },
}

/// A new secret: 256 random bits as hex, which partners use as the HMAC key as is.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Registers a partner with the configured default caps; returns its secret.
pub async fn create(store: &dyn Store, config: &Config, id: PartnerId, name: &str) -> anyhow::Result<String> {
    let secret = new_secret();
    let record = PartnerRecord {
        id: id.clone(),
        name: name.to_owned(),
        active: true,
        caps: config.partners.default_caps,
        created_at: SystemClock.now(),
    };
    ensure!(store.create_partner(record, secret.clone()).await?, "a partner with id {id} exists already");
    Ok(secret)
}

fn partner_id(raw: &str) -> anyhow::Result<PartnerId> {
    PartnerId::parse(raw).with_context(|| format!("{raw:?} is not a partner id: 1 to 32 of a-z 0-9 _ -"))
}

pub async fn run(mut config: Config, command: PartnersCommand) -> anyhow::Result<()> {
    let (PartnersCommand::Create { store, .. }
    | PartnersCommand::List { store }
    | PartnersCommand::Rotate { store, .. }
    | PartnersCommand::Disable { store, .. }
    | PartnersCommand::Enable { store, .. }
    | PartnersCommand::Caps { store, .. }) = &command;
    store.apply(&mut config);
    let store = app::open_store(&config).await?;
    let store = store.as_ref();
    match command {
        PartnersCommand::Create { name, id, .. } => {
            let name = name.trim();
            ensure!(!name.is_empty(), "--name must not be empty");
            let id = partner_id(&id.unwrap_or_else(|| name.to_lowercase().replace(' ', "-")))?;
            let secret = create(store, &config, id.clone(), name).await?;
            eprintln!("Keep this secret now: it is shown only once. The partner signs with it.");
            println!("{secret}");
            eprintln!("partner_id={id} events_url=/v1/partners/{id}/events");
        }
        PartnersCommand::List { .. } => {
            for p in store.partners().await? {
                println!(
                    "partner_id={} name={:?} active={} caps={} created={}",
                    p.id,
                    p.name,
                    p.active,
                    serde_json::to_string(&p.caps)?,
                    p.created_at
                );
            }
        }
        PartnersCommand::Rotate { id, overlap_h, .. } => {
            let id = partner_id(&id)?;
            let now = SystemClock.now();
            let overlap = SignedDuration::from_hours(i64::from(
                overlap_h.unwrap_or(config.partners.rotation_overlap_h),
            ));
            let secret = new_secret();
            ensure!(
                store.rotate_partner_secret(&id, secret.clone(), now + overlap, now).await?,
                "no partner {id}"
            );
            eprintln!(
                "Keep this secret now: it is shown only once. The previous one signs until {}.",
                now + overlap
            );
            println!("{secret}");
        }
        PartnersCommand::Disable { id, .. } => set_active(store, &id, false).await?,
        PartnersCommand::Enable { id, .. } => set_active(store, &id, true).await?,
        PartnersCommand::Caps { id, partner_daily, partner_monthly, user_daily, user_monthly, .. } => {
            let caps = RewardCaps { partner_daily, partner_monthly, user_daily, user_monthly };
            let all = [partner_daily, partner_monthly, user_daily, user_monthly];
            ensure!(all.into_iter().flatten().all(|c| c >= 0), "a cap must not be negative");
            let id = partner_id(&id)?;
            ensure!(store.set_partner_caps(&id, caps).await?, "no partner {id}");
            println!("partner_id={id} caps={}", serde_json::to_string(&caps)?);
        }
    }
    Ok(())
}

async fn set_active(store: &dyn Store, id: &str, active: bool) -> anyhow::Result<()> {
    let id = partner_id(id)?;
    ensure!(store.set_partner_active(&id, active).await?, "no partner {id}");
    println!("partner_id={id} active={active}");
    Ok(())
}
