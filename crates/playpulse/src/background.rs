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
/// A caller that stops waiting (a request past its time limit, a client gone) stops the work
/// too: left running, a query nobody waits for held the background threads for seconds and
/// slowed every query after it.
pub async fn run<F, T>(work: F) -> anyhow::Result<T>
where
    F: Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let task = spawn(work);
    let _stop_with_caller = AbortOnDrop(task.abort_handle());
    task.await?
}

/// Aborts a task when dropped (a finished task is not affected).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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

    #[tokio::test]
    async fn work_stops_when_its_caller_stops_waiting() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::Duration;

        /// Set when the work's future is dropped, which aborting the task does.
        struct Dropped(Arc<AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Dropped(dropped.clone());
        let waiting = run(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
            Ok(())
        });
        assert!(tokio::time::timeout(Duration::from_millis(50), waiting).await.is_err(), "still waiting");
        for _ in 0..200 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the work went on after its caller stopped waiting");
    }
}
