//! `playpulse serve`: the HTTP API until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use playpulse_core::time::BusinessZone;
use playpulse_notify::{Apns, Channel, Dispatcher, Email, Fcm, Proposals, Protection, Webhook};
use playpulse_server::{AppState, proposal_now};
use playpulse_store::UserRecord;
use serde_json::Value;

use crate::app;
use crate::cli::ServeArgs;
use crate::config::Config;

pub async fn run(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    args.store.apply(&mut config);
    args.cache.apply(&mut config);
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let state = app::build(&config).await?;
    let schedule = config.schedule.enabled.then(|| {
        crate::background::spawn(crate::schedule::run(
            state.store.clone(),
            state.cache.clone(),
            config.clone(),
        ))
    });
    let exporter = (config.schedule.enabled && config.schedule.export_every_s > 0).then(|| {
        crate::background::spawn(crate::schedule::export_continuously(state.store.clone(), config.clone()))
    });
    let dispatcher = dispatcher(&config, &state)?.map(|d| tokio::spawn(d.run()));
    let running =
        app::spawn(state, &config.server.listen, Duration::from_secs(config.cache.recover_every_s)).await?;
    tracing::info!(addr = %running.addr, "playpulse is serving");
    println!("listening=http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    for task in [schedule, exporter, dispatcher].into_iter().flatten() {
        task.abort();
    }
    running.stop().await
}

/// The outbox's dispatcher, when delivery is on and a channel is configured. It runs on the
/// request handlers' runtime: it waits on the network, not on the CPU.
fn dispatcher(config: &Config, state: &AppState) -> anyhow::Result<Option<Dispatcher>> {
    let notify = &config.notify;
    // Pushes first, then mail: the webhook carries what reaches no device or address.
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    if let Some(fcm) = Fcm::new(&notify.fcm, state.store.clone()).map_err(anyhow::Error::msg)? {
        channels.push(Arc::new(fcm));
    }
    if let Some(apns) = Apns::new(&notify.apns, state.store.clone()).map_err(anyhow::Error::msg)? {
        channels.push(Arc::new(apns));
    }
    if let Some(email) = Email::new(&notify.email, state.store.clone()).map_err(anyhow::Error::msg)? {
        channels.push(Arc::new(email.with_opt_out(notify.opt_out.links())));
    }
    if let Some(webhook) = Webhook::new(&notify.webhook).map_err(anyhow::Error::msg)? {
        channels.push(Arc::new(webhook.with_opt_out(notify.opt_out.links())));
    }
    if channels.is_empty() {
        if notify.enabled {
            tracing::info!("no notification channel is configured: notifications stay in the outbox");
        }
        return Ok(None);
    }
    let protection =
        Protection { harm: config.protection.harm, zone: BusinessZone::parse(&config.business.business_tz)? };
    let (store, clock) = (state.store.clone(), state.clock.clone());
    Ok(notify.enabled.then(|| {
        Dispatcher::new(store, channels, clock, notify.clone(), protection)
            .with_proposals(Arc::new(PolicyProposals(state.clone())))
    }))
}

/// The recommendation policy as the source of the proposals notifications carry.
struct PolicyProposals(AppState);

impl Proposals for PolicyProposals {
    fn proposal_for(&self, to: &UserRecord) -> Option<Value> {
        proposal_now(&self.0, to)
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
