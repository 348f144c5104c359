//! API keys: creation, hashing, verification, scopes and per-key rate limits.
//!
//! A key reads `pp_{key_id}_{secret}`. Only SHA-256 of the secret is stored: the secret has
//! 256 random bits, so a fast hash is enough and verification stays cheap on every request.
//! Verified keys are remembered for [`KEY_CACHE_TTL`], so a revocation takes effect within
//! that time on every instance.
//!
//! Failed authentications are counted per client address: an address that spends its budget
//! of failures is answered 429 `too_many_auth_failures` without a store lookup until the
//! budget refills, so guessing key ids can neither probe keys quickly nor load the database.
//! Keys already verified keep working from that address (they cost no lookup).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use playpulse_core::access::Scope;
use playpulse_core::ids::UserId;
use playpulse_store::{ApiKeyRecord, Store, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::ApiError;

/// How long a verified key is trusted without asking the store again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// Addresses (and rate-limited callers) tracked at once; past it, idle ones are forgotten.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// A newly made key: the full secret text (shown once) and the record to store.
pub struct NewKey {
    pub token: String,
    pub record: ApiKeyRecord,
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Makes a key with `scopes`; the caller stores `record` and shows `token` once.
pub fn generate_key(name: &str, scopes: Vec<Scope>, now: jiff::Timestamp) -> NewKey {
    let mut rng = rand::rng();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let (key_id, secret) = (hex::encode(id), hex::encode(secret));
    NewKey {
        token: format!("pp_{key_id}_{secret}"),
        record: ApiKeyRecord {
            key_id,
            name: name.to_owned(),
            secret_hash: hash_secret(&secret),
            scopes,
            created_at: now,
            revoked: false,
        },
    }
}

/// Creates and stores a key, returning the token to show once.
pub async fn create_key(
    store: &dyn Store,
    name: &str,
    scopes: Vec<Scope>,
    now: jiff::Timestamp,
) -> Result<NewKey, StoreError> {
    let key = generate_key(name, scopes, now);
    store.create_api_key(key.record.clone()).await?;
    Ok(key)
}

/// The caller a valid key (or player token) identified, placed in request extensions by
/// [`authenticate`].
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The key's id, or `player:{user}` for a player token (its rate limit's key).
    pub key_id: String,
    pub scopes: Vec<Scope>,
    /// The user a player token speaks for; such a caller holds no scope.
    pub player: Option<UserId>,
}

impl Authenticated {
    /// Refuses a caller that lacks `scope` (a player token lacks every scope).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.player.is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing_scope",
                "a player token reads only its own user's profile, balance, recommendations, quiz and content",
            ));
        }
        if !self.scopes.iter().any(|s| s.grants(scope)) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing_scope",
                format!("this API key lacks the `{scope}` scope"),
            ));
        }
        Ok(())
    }
}

/// No credentials at all.
pub fn missing_key() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "missing_api_key", "send `Authorization: Bearer <api key>`")
}

/// Verified keys, per-key rate limits and per-address limits on failed authentications.
pub struct Gatekeeper {
    verified: Mutex<HashMap<String, (ApiKeyRecord, Instant)>>,
    limiter: DefaultKeyedRateLimiter<String>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses that spent their failure budget, and until when they stay refused.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Gatekeeper {
    /// Each key may send `per_second` requests on average, in bursts of up to `burst`; each
    /// client address may fail `failures_per_minute` authentications a minute (all at once,
    /// or spread).
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32, failures_per_minute: NonZeroU32) -> Self {
        Self {
            verified: Mutex::new(HashMap::new()),
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            failures: RateLimiter::keyed(Quota::per_minute(failures_per_minute)),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses an address that spent its failure budget, before anything costs a lookup.
    pub(crate) fn refuse_blocked(&self, address: IpAddr) -> Result<(), ApiError> {
        let blocked = self.blocked.lock().expect("blocked-address mutex is never poisoned");
        match blocked.get(&address).map(|until| until.saturating_duration_since(Instant::now())) {
            Some(wait) if !wait.is_zero() => Err(too_many_failures(wait)),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `address`: the failure itself, or 429 once the
    /// address has failed too often.
    fn failed(&self, address: IpAddr, failure: ApiError) -> ApiError {
        if self.failures.len() > MAX_TRACKED_ADDRESSES {
            self.failures.retain_recent();
        }
        let Err(not_until) = self.failures.check_key(&address) else {
            return failure;
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let now = Instant::now();
        let mut blocked = self.blocked.lock().expect("blocked-address mutex is never poisoned");
        if blocked.len() >= MAX_TRACKED_ADDRESSES {
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(address, now + wait);
        tracing::warn!(%address, "authentication failures throttled");
        too_many_failures(wait)
    }

    async fn verify(
        &self,
        store: &dyn Store,
        token: &str,
        address: IpAddr,
    ) -> Result<Authenticated, ApiError> {
        let unauthorized =
            || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", "the API key is not valid");
        let (key_id, secret) =
            token.strip_prefix("pp_").and_then(|rest| rest.split_once('_')).ok_or_else(unauthorized)?;
        let cached = {
            let verified = self.verified.lock().expect("key cache mutex is never poisoned");
            verified.get(key_id).filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL).map(|(k, _)| k.clone())
        };
        let record = match cached {
            Some(record) => record,
            None => {
                self.refuse_blocked(address)?;
                let record = store.api_key(key_id).await?.ok_or_else(unauthorized)?;
                let mut verified = self.verified.lock().expect("key cache mutex is never poisoned");
                verified.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
                verified.insert(key_id.to_owned(), (record.clone(), Instant::now()));
                record
            }
        };
        // Comparing hashes, not secrets: timing reveals nothing usable about the secret.
        if record.revoked || record.secret_hash != hash_secret(secret) {
            return Err(unauthorized());
        }
        Ok(Authenticated { key_id: record.key_id, scopes: record.scopes, player: None })
    }

    fn admit(&self, key_id: &str) -> Result<(), ApiError> {
        // Player tokens bring one rate-limit key per user: idle ones are forgotten.
        if self.limiter.len() > MAX_TRACKED_ADDRESSES {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this API key; retry later",
            );
            err.retry_after_s = Some(wait.as_secs().max(1));
            err
        })
    }
}

fn too_many_failures(wait: Duration) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_auth_failures",
        "too many failed authentications from this address; retry later with a valid key",
    );
    // Rounded up: a client that waits what it is told is not refused again.
    err.retry_after_s = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
    err
}

/// The client's address: the TCP peer (in-process callers without one share one budget).
fn client_address(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| peer.ip())
}

/// Middleware for every `/v1` route: a valid, non-revoked key within its rate limit.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(missing_key)?
        .trim();
    let address = client_address(&request);
    let verified = if token.starts_with(crate::player::PREFIX) {
        state.gate.refuse_blocked(address)?;
        let now = state.clock.now();
        (state.player_keys.verify(state.store.as_ref(), token, now).await).map(|user| Authenticated {
            key_id: format!("player:{user}"),
            scopes: Vec::new(),
            player: Some(user),
        })
    } else {
        state.gate.verify(state.store.as_ref(), token, address).await
    };
    let caller = match verified {
        Ok(caller) => caller,
        Err(err) if err.status == StatusCode::UNAUTHORIZED => return Err(state.gate.failed(address, err)),
        Err(err) => return Err(err),
    };
    state.gate.admit(&caller.key_id)?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// A scope a handler requires, as a type.
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Scope;
}

/// Requires the `ingest` scope.
pub struct IngestScope;
/// Requires the `read` scope.
pub struct ReadScope;
/// Requires the `admin` scope.
pub struct AdminScope;

impl RequiredScope for IngestScope {
    const SCOPE: Scope = Scope::Ingest;
}
impl RequiredScope for ReadScope {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for AdminScope {
    const SCOPE: Scope = Scope::Admin;
}

/// Extractor: the authenticated caller, holding scope `S` (or `admin`). A handler that
/// takes it cannot run for a caller without that scope.
pub struct Caller<S> {
    pub key_id: String,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for Caller<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Authenticated>().ok_or_else(missing_key)?;
        caller.require(S::SCOPE)?;
        Ok(Self { key_id: caller.key_id.clone(), _scope: PhantomData })
    }
}
