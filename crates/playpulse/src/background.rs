//! A runtime for work that takes the machine for seconds: the night's batch and the analytics
//! queries over the lake. On the request handlers' runtime, a query engine using every core
//! would hold their threads, and every request would wait behind the night. Here it has
//! threads of its own at a lower priority, which the OS runs mostly when the handlers leave
//! a core free: under load the night slows down, not the API.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// Niceness of the background threads (at least; a process started nicer keeps its own): at
/// 10 against 0, a busy handler thread gets about nine tenths of a core it shares with one.
const NICENESS: i32 = 10;

/// The process's background runtime, started on first use and kept to the end (a runtime
/// cannot be dropped from inside another).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .thread_name("playpulse-background")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .expect("the background runtime starts")
    })
}

/// Runs `work` on the background runtime.
pub fn spawn<F>(work: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(work)
}

/// Runs `work` on the background runtime and waits for it; a panic in it is an error here.
pub async fn run<F, T>(work: F) -> anyhow::Result<T>
where
    F: Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    spawn(work).await?
}

/// Linux schedules threads, so `None` (the caller) is this thread alone. A thread inherits
/// its creator's niceness, so it is raised to NICENESS, not by it.
#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    let own = getpriority_process(None).unwrap_or(0);
    if let Err(err) = setpriority_process(None, own.max(NICENESS)) {
        tracing::debug!(error = %err, "a background thread kept its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_niceness() -> i32 {
        rustix::process::getpriority_process(None).unwrap()
    }

    #[tokio::test]
    async fn background_work_runs_at_a_lower_priority_than_the_callers() {
        let caller = own_niceness();
        let background = run(async { Ok(own_niceness()) }).await.unwrap();
        assert_eq!(background, caller.max(NICENESS), "caller at {caller}");
        let blocking = run(async { Ok(tokio::task::spawn_blocking(own_niceness).await?) }).await.unwrap();
        assert_eq!(blocking, background, "its blocking threads too");
        assert_eq!(own_niceness(), caller, "the caller's thread is untouched");
    }
}
