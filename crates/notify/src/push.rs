//! What the push channels share: whom a notification reaches (the user's enabled devices of
//! the channel's platforms, and their language), the text shown, and one outcome from the
//! sends to every device.

use jiff::Timestamp;
use playpulse_store::{Device, Store, StoredNotification, UserRecord};

use crate::dispatcher::Attempt;

/// The devices a push goes to, and the language its texts are shown in.
pub(crate) struct Audience {
    pub devices: Vec<Device>,
    /// `ko` or `en`.
    pub lang: &'static str,
}

/// The audience of user `to` on `platforms`; `Err` with the attempt to report when there is
/// none to reach (unreachable) or the store cannot say (failed).
pub(crate) async fn audience(
    store: &dyn Store,
    to: &UserRecord,
    platforms: &[&str],
) -> Result<Audience, Attempt> {
    let devices = store
        .devices_of(&to.user)
        .await
        .map_err(|err| Attempt::Failed { error: format!("the store: {err}"), retry_after: None })?;
    let devices: Vec<Device> = devices
        .into_iter()
        .filter(|d| d.disabled_at.is_none() && platforms.contains(&d.platform.as_str()))
        .collect();
    if devices.is_empty() {
        return Err(Attempt::Unreachable);
    }
    let english = to.lang.as_deref() == Some("en");
    Ok(Audience { devices, lang: if english { "en" } else { "ko" } })
}

/// `n`'s title and body in `lang`, as the dispatcher filled them.
pub(crate) fn texts<'a>(n: &'a StoredNotification, lang: &str) -> (&'a str, &'a str) {
    let text = |part: &str| n.payload[part][lang].as_str().unwrap_or_default();
    (text("title"), text("body"))
}

/// One outcome from a send to each device: failed when one failed (the notification is
/// tried again on every device; its idempotency key lets the app show it once), delivered
/// when one was reached, else refused (every device refused it).
pub(crate) fn overall(attempts: Vec<Attempt>) -> Attempt {
    let mut outcome = Attempt::Unreachable;
    for attempt in attempts {
        match attempt {
            failed @ Attempt::Failed { .. } => return failed,
            Attempt::Delivered => outcome = Attempt::Delivered,
            Attempt::Refused { error } if outcome != Attempt::Delivered => {
                outcome = Attempt::Refused { error }
            }
            _ => {}
        }
    }
    outcome
}

/// Disables a device its provider refused for good (`reason`: the provider's code).
pub(crate) async fn disable(store: &dyn Store, device: &Device, reason: &str, now: Timestamp) {
    if let Err(err) = store.disable_device(&device.platform, &device.token, reason, now).await {
        tracing::warn!(error = %err, "a device its provider refused could not be disabled");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_retries_the_whole_and_one_delivery_outweighs_refusals() {
        let failed = || Attempt::Failed { error: "503".into(), retry_after: None };
        let refused = || Attempt::Refused { error: "UNREGISTERED".into() };
        assert_eq!(overall(vec![Attempt::Delivered, failed()]), failed());
        assert_eq!(overall(vec![refused(), Attempt::Delivered, refused()]), Attempt::Delivered);
        assert_eq!(overall(vec![refused(), refused()]), refused());
        assert_eq!(overall(Vec::new()), Attempt::Unreachable);
    }
}
