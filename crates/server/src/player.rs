//! Player-scoped tokens: short-lived PASETO v4.public tokens (Ed25519) that a game client
//! holds for one user. They read only that user's profile, balance, recommendations, quiz
//! and content, and submit only that user's quiz; every other route refuses them.
//!
//! The signing keys live in the store (`token_keys`), shared by every instance: the newest
//! current key signs, and every key not yet retired verifies. A rotation retires the previous
//! key only after the longest token lifetime, so both verify during the overlap. Expiry is
//! judged on the server's `Clock`.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jiff::{SignedDuration, Timestamp};
use pasetors::Public;
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use playpulse_core::ids::UserId;
use playpulse_store::{Store, StoreError, TokenKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authenticated, Caller, IngestScope, RequiredScope, missing_key};
use crate::extract::{Input, JsonBody, PathUser, unknown_user};
use crate::problem::{ApiError, Problem};

/// What a player token starts with.
pub const PREFIX: &str = "v4.public.";
/// Lifetime of a token when the request names none.
pub const DEFAULT_TTL: SignedDuration = SignedDuration::from_mins(15);
/// Longest lifetime a token may ask for; also how long a rotated key keeps verifying.
pub const MAX_TTL: SignedDuration = SignedDuration::from_hours(1);
/// Binds tokens to their purpose: a token signed for something else never verifies here.
const IMPLICIT: &[u8] = b"playpulse:player";
/// Fewest time between two reloads of the keys on an unknown key id.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// Unix seconds.
    iat: i64,
    exp: i64,
    scope: String,
}

#[derive(Serialize, Deserialize)]
struct Footer {
    kid: String,
}

struct Loaded {
    id: String,
    secret: AsymmetricSecretKey<V4>,
    public: AsymmetricPublicKey<V4>,
    retired_at: Option<Timestamp>,
}

/// The token keys as this instance last read them.
pub struct PlayerKeys {
    keys: RwLock<Arc<Vec<Loaded>>>,
    reloaded: Mutex<Option<Instant>>,
}

impl Default for PlayerKeys {
    fn default() -> Self {
        Self { keys: RwLock::new(Arc::new(Vec::new())), reloaded: Mutex::new(None) }
    }
}

fn invalid(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", detail.to_owned())
}

/// A new key pair as stored.
pub fn new_key(now: Timestamp) -> Result<TokenKey, StoreError> {
    let pair = AsymmetricKeyPair::<V4>::generate()
        .map_err(|e| StoreError::Corrupt(format!("key generation: {e}")))?;
    Ok(TokenKey {
        key_id: uuid::Uuid::new_v4().simple().to_string(),
        secret: hex::encode(pair.secret.as_bytes()),
        created_at: now,
        retired_at: None,
    })
}

/// Rotates: a new key signs from now on; the current one verifies for [`MAX_TTL`] more.
pub async fn rotate(store: &dyn Store, now: Timestamp) -> Result<String, StoreError> {
    let key = new_key(now)?;
    let id = key.key_id.clone();
    store.add_token_key(key, now + MAX_TTL, false).await?;
    Ok(id)
}

impl PlayerKeys {
    async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let mut loaded = Vec::new();
        for key in store.token_keys().await? {
            let bytes =
                hex::decode(&key.secret).map_err(|e| StoreError::Corrupt(format!("token key: {e}")))?;
            let secret = AsymmetricSecretKey::<V4>::from(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("token key {}: {e}", key.key_id)))?;
            let public = AsymmetricPublicKey::<V4>::try_from(&secret)
                .map_err(|e| StoreError::Corrupt(format!("token key {}: {e}", key.key_id)))?;
            loaded.push(Loaded { id: key.key_id, secret, public, retired_at: key.retired_at });
        }
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(loaded);
        *self.reloaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        Ok(())
    }

    fn current(&self) -> Arc<Vec<Loaded>> {
        self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Reloads if the last load is older than [`RELOAD_EVERY`] (a key rotated elsewhere).
    async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        let stale = self
            .reloaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none_or(|at| at.elapsed() >= RELOAD_EVERY);
        if stale { self.reload(store).await } else { Ok(()) }
    }

    /// A token for `user`, valid for `ttl` from `now`, and its expiry, signed by the newest
    /// current key. The first token ever makes the first key.
    pub async fn mint(
        &self,
        store: &dyn Store,
        user: &UserId,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<(String, Timestamp), ApiError> {
        let signer = |keys: &[Loaded]| {
            keys.iter().rev().position(|k| k.retired_at.is_none()).map(|i| keys.len() - 1 - i)
        };
        // A rotation made through another instance signs here within a second.
        self.refresh(store).await?;
        if signer(&self.current()).is_none() {
            store.add_token_key(new_key(now)?, now, true).await?;
            self.reload(store).await?;
        }
        let keys = self.current();
        let key = &keys[signer(&keys).ok_or_else(ApiError::internal)?];
        let expires = now + ttl;
        let claims = Claims {
            sub: user.to_string(),
            iat: now.as_second(),
            exp: expires.as_second(),
            scope: "player".into(),
        };
        let footer = serde_json::to_vec(&Footer { kid: key.id.clone() }).expect("plain data serializes");
        let message = serde_json::to_vec(&claims).expect("plain data serializes");
        let token = PublicToken::sign(&key.secret, &message, Some(&footer), Some(IMPLICIT)).map_err(|e| {
            tracing::error!(error = %e, "a player token could not be signed");
            ApiError::internal()
        })?;
        Ok((token, expires))
    }

    /// The user a token speaks for, if it verifies under a key still verifying at `now` and
    /// has not expired.
    pub async fn verify(&self, store: &dyn Store, token: &str, now: Timestamp) -> Result<UserId, ApiError> {
        let untrusted =
            UntrustedToken::<Public, V4>::try_from(token).map_err(|_| invalid("not a player token"))?;
        let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer())
            .map_err(|_| invalid("the token names no key"))?;
        let find = |keys: &Arc<Vec<Loaded>>| keys.iter().position(|k| k.id == footer.kid);
        let mut keys = self.current();
        if find(&keys).is_none() {
            self.refresh(store).await?;
            keys = self.current();
        }
        let key = &keys[find(&keys).ok_or_else(|| invalid("the token's key is unknown"))?];
        if key.retired_at.is_some_and(|t| t <= now) {
            return Err(invalid("the token's key is retired"));
        }
        let trusted = PublicToken::verify(&key.public, &untrusted, None, Some(IMPLICIT))
            .map_err(|_| invalid("the token's signature does not verify"))?;
        let claims: Claims = serde_json::from_str(trusted.payload())
            .map_err(|_| invalid("the token's claims are unreadable"))?;
        if claims.scope != "player" {
            return Err(invalid("the token is not a player token"));
        }
        if claims.exp <= now.as_second() {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "the player token has expired",
            ));
        }
        UserId::parse(&claims.sub).map_err(|_| invalid("the token's subject is not a user id"))
    }
}

/// Extractor: a key with scope `S`, or a player token. A handler that takes it must call
/// [`Reader::may_act_for`] with the user it is about.
pub struct Reader<S> {
    player: Option<UserId>,
    _scope: PhantomData<S>,
}

impl<S> Reader<S> {
    /// Refuses a player token for another user than its own.
    pub fn may_act_for(&self, user: &UserId) -> Result<(), ApiError> {
        match &self.player {
            Some(own) if own != user => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "other_user",
                "a player token may act only for its own user",
            )),
            _ => Ok(()),
        }
    }
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for Reader<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Authenticated>().ok_or_else(missing_key)?;
        if let Some(user) = &caller.player {
            return Ok(Self { player: Some(user.clone()), _scope: PhantomData });
        }
        caller.require(S::SCOPE)?;
        Ok(Self { player: None, _scope: PhantomData })
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue))
}

/// How long the token should live.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Seconds, 60 to 3,600 (default 900).
    ttl_s: Option<i64>,
}

impl Input for TokenRequest {
    const INVALID: &'static str = "invalid_body";
}

#[derive(Serialize, ToSchema)]
pub struct IssuedToken {
    pub user_id: String,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Issues a player-scoped token for a game client: it reads only this user's profile,
/// balance, recommendations, quiz and content, and submits only this user's quiz.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/tokens",
    tag = "users",
    params(("user_id" = String, Path, description = "the operator's user id")),
    request_body = TokenRequest,
    responses(
        (status = 200, body = IssuedToken),
        (status = 404, description = "unknown user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ttl_s` outside 60..=3600", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["ingest"]))
)]
async fn issue(
    _caller: Caller<IngestScope>,
    State(state): State<AppState>,
    PathUser(user): PathUser,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Json<IssuedToken>, ApiError> {
    let ttl = match request.ttl_s {
        None => DEFAULT_TTL,
        Some(s) if (60..=MAX_TTL.as_secs()).contains(&s) => SignedDuration::from_secs(s),
        Some(_) => {
            return Err(ApiError::unprocessable("invalid_ttl", "`ttl_s` must be from 60 to 3600")
                .with_item(Some("ttl_s".into())));
        }
    };
    if state.store.user(&user).await?.is_none() {
        return Err(unknown_user(&user));
    }
    let (token, expires) =
        state.player_keys.mint(state.store.as_ref(), &user, ttl, state.clock.now()).await?;
    Ok(Json(IssuedToken { user_id: user.to_string(), token, expires_at: expires.to_string() }))
}
