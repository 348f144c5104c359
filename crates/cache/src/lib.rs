//! The Redis hot cache of playpulse: per-user balance and hot metrics, written after commit.
//!
//! The ledger in the operational DB is the truth; Redis is a copy that may be flushed at any
//! time. Every write carries the user's state version and a Lua script keeps the newer one,
//! so two requests committing in one order and writing the cache in the other cannot leave
//! an old balance behind. When a write fails (Redis down), the cache marks itself degraded:
//! reads go to the DB until a reconciliation pass that started after the failure has
//! repaired every key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use playpulse_core::ids::UserId;
use playpulse_core::ledger::UserState;
use playpulse_core::streak::Streak;
use playpulse_core::tokens::Tokens;
use playpulse_store::{Store, StoreError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

/// How long one Redis call may take before ingest gives up on it and moves on.
const REDIS_TIMEOUT_MS: u64 = 250;
/// Longest a whole cache write may take, reconnection and retry included; past it the write
/// counts as failed (the cache is degraded until reconciled).
const PUT_DEADLINE_MS: u64 = 4 * REDIS_TIMEOUT_MS;
/// Users compared per round trip during reconciliation.
const RECONCILE_PAGE: usize = 1000;
/// Keys asked for per SCAN step when a prefix is removed.
const SCAN_COUNT: usize = 1000;

/// Keeps the newer state: writes the hash only if the cached version is not newer.
/// KEYS: one per user; ARGV: 7 fields per user, version first.
const PUT_IF_NEWER: &str = r"
for i, key in ipairs(KEYS) do
  local o = (i - 1) * 7
  local cached = tonumber(redis.call('HGET', key, 'v') or '-1')
  if cached <= tonumber(ARGV[o + 1]) then
    redis.call('HSET', key, 'v', ARGV[o + 1], 'bal', ARGV[o + 2], 'fs', ARGV[o + 3], 'la', ARGV[o + 4],
      'lpd', ARGV[o + 5], 'mask', ARGV[o + 6], 'run', ARGV[o + 7])
  end
end
return #KEYS
";

/// Failures of the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the write took longer than its deadline of {0} ms")]
    Deadline(u64),
    #[error("cached value of {key} is malformed: {detail}")]
    Malformed { key: String, detail: String },
}

/// What a reconciliation found and repaired.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Users compared.
    pub checked: u64,
    /// Keys missing or different from the ledger, now repaired.
    pub drifted: u64,
}

/// The Redis hot cache.
pub struct HotCache {
    conn: ConnectionManager,
    prefix: String,
    put_script: Script,
    /// Writes that failed since the start. Reads trust the cache only when a reconciliation
    /// pass that began after the latest failure has finished: a key a pass checked before a
    /// write to it failed may be stale.
    failures: AtomicU64,
    /// `failures` as it stood when the latest complete reconciliation pass began.
    repaired: AtomicU64,
}

impl HotCache {
    /// Connects to `url`; keys are named `{prefix}:user:{id}`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let client = redis::Client::open(url)?;
        let timeout = Duration::from_millis(REDIS_TIMEOUT_MS);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            put_script: Script::new(PUT_IF_NEWER),
            failures: AtomicU64::new(0),
            repaired: AtomicU64::new(0),
        })
    }

    fn key(&self, user: &UserId) -> String {
        format!("{}:user:{}", self.prefix, user)
    }

    /// Removes a user's cached state (their erasure).
    pub async fn forget(&self, user: &UserId) -> Result<(), CacheError> {
        let _: u64 = self.conn.clone().del(self.key(user)).await?;
        Ok(())
    }

    /// Whether Redis answers a PING within the call timeout.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        matches!(redis::cmd("PING").query_async::<String>(&mut conn).await, Ok(pong) if pong == "PONG")
    }

    /// Whether reads must bypass the cache until the next successful reconciliation.
    pub fn is_degraded(&self) -> bool {
        self.failures.load(Ordering::Acquire) > self.repaired.load(Ordering::Acquire)
    }

    /// Writes committed states. A failure marks the cache degraded and is counted; it never
    /// fails the caller's request, whose data is already safe in the DB.
    pub async fn put(&self, users: &[(UserId, UserState)]) {
        if users.is_empty() {
            return;
        }
        let deadline = Duration::from_millis(PUT_DEADLINE_MS);
        let outcome = tokio::time::timeout(deadline, self.try_put(users))
            .await
            .unwrap_or(Err(CacheError::Deadline(PUT_DEADLINE_MS)));
        if let Err(err) = outcome {
            self.failures.fetch_add(1, Ordering::AcqRel);
            metrics::counter!("playpulse_cache_errors_total", "op" => "put").increment(1);
            tracing::warn!(error = %err, "hot cache write failed; reads use the DB until reconciled");
        }
    }

    async fn try_put(&self, users: &[(UserId, UserState)]) -> Result<(), CacheError> {
        let mut invocation = self.put_script.prepare_invoke();
        for (user, state) in users {
            invocation.key(self.key(user));
            invocation
                .arg(state.version)
                .arg(state.balance.0)
                .arg(state.first_seen.as_millisecond())
                .arg(state.last_action.as_millisecond())
                .arg(state.streak.last_play_day.map(|d| d.to_string()).unwrap_or_default())
                .arg(state.streak.mask)
                .arg(state.streak.run_days);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// The cached state of a user, if the cache is healthy and holds it.
    pub async fn get(&self, user: &UserId) -> Option<UserState> {
        if self.is_degraded() {
            return None;
        }
        match self.try_get(user).await {
            Ok(found) => found,
            Err(err) => {
                metrics::counter!("playpulse_cache_errors_total", "op" => "get").increment(1);
                tracing::warn!(error = %err, "hot cache read failed; using the DB");
                None
            }
        }
    }

    async fn try_get(&self, user: &UserId) -> Result<Option<UserState>, CacheError> {
        let key = self.key(user);
        let fields: Vec<(String, String)> = self.conn.clone().hgetall(&key).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        parse_state(&key, &fields).map(Some)
    }

    /// Compares every user's cached state with the DB and repairs what differs; clears the
    /// degraded mark when the whole pass succeeded and no write failed since it began.
    pub async fn reconcile(&self, store: &dyn Store) -> Result<ReconcileReport, CacheError> {
        self.reconcile_paged(store, RECONCILE_PAGE, async || {}).await
    }

    /// [`HotCache::reconcile`] in pages of `page_size` users, calling `between_pages` after
    /// each (tests interleave writes there).
    async fn reconcile_paged(
        &self,
        store: &dyn Store,
        page_size: usize,
        mut between_pages: impl AsyncFnMut(),
    ) -> Result<ReconcileReport, CacheError> {
        // Only failures before this point are repaired by this pass: a later one may hit a
        // key the pass has already checked.
        let failures_before = self.failures.load(Ordering::Acquire);
        let mut report = ReconcileReport::default();
        let mut after: Option<UserId> = None;
        loop {
            let page = store.user_states(after.as_ref(), page_size).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            report.checked += page.len() as u64;
            let mut pipe = redis::pipe();
            for (user, _) in &page {
                pipe.hgetall(self.key(user));
            }
            let cached: Vec<Vec<(String, String)>> = pipe.query_async(&mut self.conn.clone()).await?;
            let drifted: Vec<(UserId, UserState)> = page
                .into_iter()
                .zip(cached)
                .filter(|((user, state), fields)| {
                    !parse_state(&self.key(user), fields).is_ok_and(|cached| cached.same_hot_fields(state))
                })
                .map(|(pair, _)| pair)
                .collect();
            report.drifted += drifted.len() as u64;
            if !drifted.is_empty() {
                self.try_put(&drifted).await?;
            }
            between_pages().await;
        }
        self.repaired.fetch_max(failures_before, Ordering::AcqRel);
        Ok(report)
    }
}

/// Removes every key under `prefix` (`{prefix}:…`) from the Redis at `url`, and returns how
/// many there were: what a benchmark or a test wrote into a shared Redis goes with it.
pub async fn remove_prefix(url: &str, prefix: &str) -> Result<u64, CacheError> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    // Glob characters in the prefix must match themselves, not widen the pattern.
    let escaped: String = prefix
        .chars()
        .flat_map(|c| if matches!(c, '*' | '?' | '[' | ']' | '\\') { vec!['\\', c] } else { vec![c] })
        .collect();
    let pattern = format!("{escaped}:*");
    let (mut cursor, mut removed) = (0u64, 0u64);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            removed += redis::cmd("UNLINK").arg(&keys).query_async::<u64>(&mut conn).await?;
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

fn parse_state(key: &str, fields: &[(String, String)]) -> Result<UserState, CacheError> {
    let malformed = |detail: &str| CacheError::Malformed { key: key.to_owned(), detail: detail.to_owned() };
    let field = |name: &str| {
        fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or_else(|| malformed(name))
    };
    let int = |name: &str| field(name)?.parse::<i64>().map_err(|_| malformed(name));
    let ts = |name: &str| jiff::Timestamp::from_millisecond(int(name)?).map_err(|_| malformed(name));
    let play_day = match field("lpd")? {
        "" => None,
        text => Some(text.parse().map_err(|_| malformed("lpd"))?),
    };
    Ok(UserState {
        version: int("v")?,
        balance: Tokens(int("bal")?),
        first_seen: ts("fs")?,
        last_action: ts("la")?,
        streak: Streak {
            last_play_day: play_day,
            mask: field("mask")?.parse().map_err(|_| malformed("mask"))?,
            run_days: field("run")?.parse().map_err(|_| malformed("run"))?,
        },
        // Not cached: protection is read from the DB, where the ledger enforces it.
        age_verified: false,
        limits: Default::default(),
        tally: Default::default(),
    })
}

#[cfg(test)]
mod tests;
