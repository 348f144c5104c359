//! `playpulse keys`: API keys for servers.

use anyhow::Context;
use playpulse_core::access::Scope;
use playpulse_core::time::{Clock, SystemClock};

use crate::app;
use crate::cli::KeysCommand;
use crate::config::Config;

pub async fn run(mut config: Config, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { store, scope, name } => {
            store.apply(&mut config);
            let scopes = scope.iter().map(|s| s.trim().parse::<Scope>()).collect::<Result<Vec<_>, _>>()?;
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let store = app::open_store(&config).await?;
            let key =
                playpulse_server::auth::create_key(store.as_ref(), name.trim(), scopes, SystemClock.now())
                    .await
                    .context("cannot store the key")?;
            eprintln!("Keep this key now: it is shown only once.");
            println!("{}", key.token);
            eprintln!("key_id={} scopes={}", key.record.key_id, scope.join(","));
        }
        KeysCommand::List { store } => {
            store.apply(&mut config);
            let store = app::open_store(&config).await?;
            for key in store.api_keys().await? {
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                println!(
                    "key_id={} name={:?} scopes={} created={} revoked={}",
                    key.key_id,
                    key.name,
                    scopes.join(","),
                    key.created_at,
                    key.revoked
                );
            }
        }
        KeysCommand::Revoke { store, key_id } => {
            store.apply(&mut config);
            let store = app::open_store(&config).await?;
            anyhow::ensure!(
                store.revoke_api_key(&key_id, SystemClock.now()).await?,
                "no active key with id {key_id}"
            );
            println!("revoked={key_id}");
        }
        KeysCommand::RotatePlayerKey { store } => {
            store.apply(&mut config);
            let store = app::open_store(&config).await?;
            let id = playpulse_server::player::rotate(store.as_ref(), SystemClock.now()).await?;
            println!("player_key={id}");
        }
    }
    Ok(())
}
