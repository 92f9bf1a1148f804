//! Who is calling: tokens are the metadata servers' device tokens, checked over
//! the RPC and cached briefly ([`Authenticator`]), and checked again when a
//! cached answer lacks a workspace the caller may have gained since; what they
//! may do is decided by account ownership, workspace membership and container
//! ACLs ([`acl`]). When a user's access to a workspace changes, every proxy
//! drops its cached identities of that user at once ([`invalidation`]).

pub mod acl;
pub mod invalidation;
pub mod oauth;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nimbus_protocol::RpcClient;
use nimbus_protocol::rpc::{
    Account, DeviceArgs, DeviceToken, ErrorCode, LoginArgs, Operation, Password, Role,
    WorkspaceInfo,
};
use uuid::Uuid;

use crate::error::SwiftError;
use crate::index::ObjectIndex;
use acl::Access;

/// Prefix of Swift account names (`AUTH_alice`).
pub const ACCOUNT_PREFIX: &str = "AUTH_";

/// A container another account shares with the caller through a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceGrant {
    pub account: String,
    pub container: String,
    pub can_write: bool,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: Uuid,
    /// The device whose token this is.
    pub device_id: Uuid,
    pub user_name: String,
    /// The caller's Swift account, `AUTH_<account name>`.
    pub account: String,
    /// Whether the caller administers `account` (Swift's `.admin`).
    pub account_admin: bool,
    /// Whether the caller administers the installation (Swift's
    /// `.reseller_admin`, for what Swift lets resellers do: account quotas).
    pub installation_admin: bool,
    pub workspaces: Vec<WorkspaceGrant>,
    /// Containers of `account` that only a workspace grant opens (their
    /// workspace's ownership moved to another account).
    pub membership_only: Vec<String>,
}

impl Identity {
    fn from_rpc(account: Account, workspaces: &[WorkspaceInfo]) -> Self {
        Self {
            user_id: account.user_id,
            device_id: account.device_id,
            user_name: account.username,
            account: account.storage_account,
            account_admin: account.account_admin,
            installation_admin: account.is_admin,
            membership_only: account.membership_only_containers,
            workspaces: workspaces
                .iter()
                .map(|w| WorkspaceGrant {
                    account: w.storage_account.clone(),
                    container: w.container.clone(),
                    can_write: w.role.can_write(),
                })
                .collect(),
        }
    }

    /// The account name without the `AUTH_` prefix.
    pub fn account_name(&self) -> &str {
        self.account
            .strip_prefix(ACCOUNT_PREFIX)
            .unwrap_or(&self.account)
    }

    /// Whether the caller administers `account`.
    pub fn owns(&self, account: &str) -> bool {
        self.account_admin && self.account == account
    }

    /// Whether administering `account` opens `container` of it: not when the
    /// container holds a workspace transferred to another account.
    pub fn owns_container(&self, account: &str, container: &str) -> bool {
        self.owns(account) && !self.membership_only.iter().any(|c| c == container)
    }

    /// The caller's workspace grant for `container` of `account`, if any.
    pub fn grant(&self, account: &str, container: &str) -> Option<&WorkspaceGrant> {
        self.workspaces
            .iter()
            .find(|w| w.account == account && w.container == container)
    }
}

struct CachedIdentity {
    identity: Arc<Identity>,
    valid_until: Instant,
    /// When this token's identity was last fetched out of turn (see
    /// [`Authenticator::refresh_for_container`]); the lock also makes
    /// concurrent requests wait for one fetch instead of each making one.
    forced_refresh: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

/// An account's containers that hold a transferred workspace, as last asked.
struct CachedTransfers {
    containers: Arc<[String]>,
    valid_until: Instant,
}

/// Above this many cached tokens, expired entries are swept on insert.
const CACHE_SWEEP_THRESHOLD: usize = 10_000;

/// The shortest time between two out-of-turn fetches of one token's identity,
/// so that requests for containers the caller may not use cannot each cost
/// the metadata servers two RPCs.
const FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Checks credentials and tokens with the metadata servers and remembers
/// valid tokens for a short time.
pub struct Authenticator {
    rpc: RpcClient,
    index: Arc<dyn ObjectIndex>,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, CachedIdentity>>,
    /// By account: see [`Self::transferred_containers`].
    transfers: Mutex<HashMap<String, CachedTransfers>>,
    /// Bumped by every invalidation, so that an identity fetched before one
    /// is not cached after it (see [`Self::forget_user`]).
    generation: AtomicU64,
}

/// The outcome of a credential check the caller can act on.
pub enum LoginOutcome {
    LoggedIn {
        token: DeviceToken,
        /// Seconds until the token expires.
        expires_in: u64,
        identity: Arc<Identity>,
    },
    Rejected,
}

impl Authenticator {
    pub fn new(rpc: RpcClient, index: Arc<dyn ObjectIndex>, cache_ttl: Duration) -> Self {
        Self {
            rpc,
            index,
            cache_ttl,
            cache: Mutex::default(),
            transfers: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// Drops every cached identity of the user: their access to a workspace
    /// changed. A fetch that was in flight is not cached either.
    pub fn forget_user(&self, user_id: Uuid) {
        let mut cache = self.cache.lock().expect("token cache lock poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.retain(|_, entry| entry.identity.user_id != user_id);
    }

    /// Drops the cached identity of the device's token: it was revoked.
    pub fn forget_device(&self, device_id: Uuid) {
        let mut cache = self.cache.lock().expect("token cache lock poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.retain(|_, entry| entry.identity.device_id != device_id);
    }

    /// Drops every cached identity: used when invalidations may have been
    /// missed (the broadcast's connection was down), and when a change may
    /// concern users the proxy cannot name.
    pub fn forget_all(&self) {
        let mut cache = self.cache.lock().expect("token cache lock poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
        drop(cache);
        self.transfers
            .lock()
            .expect("transfer cache lock poisoned")
            .clear();
    }

    /// The containers of `account` that hold a workspace transferred to
    /// another account, which open by membership only: not to the account's
    /// administrators (their identities say so, [`Identity::membership_only`]),
    /// but neither to its account ACL, its listing or its TempURL keys, where
    /// no identity of the account tells. Asked of the metadata servers as a
    /// service call and cached like identities: a change of owner drops the
    /// cache on every proxy ([`invalidation`]).
    pub async fn transferred_containers(&self, account: &str) -> Result<Arc<[String]>, SwiftError> {
        let now = Instant::now();
        if let Some(entry) = self
            .transfers
            .lock()
            .expect("transfer cache lock poisoned")
            .get(account)
            .filter(|entry| entry.valid_until > now)
        {
            return Ok(Arc::clone(&entry.containers));
        }
        let read_at = self.generation.load(Ordering::Acquire);
        let containers: Vec<String> = self
            .rpc
            .call(
                None,
                Operation::TransferredContainers {
                    storage_account: account.to_owned(),
                },
            )
            .await
            .map_err(SwiftError::RpcUnavailable)?;
        let containers: Arc<[String]> = containers.into();
        let mut transfers = self.transfers.lock().expect("transfer cache lock poisoned");
        // As for identities: an answer read before an owner change serves
        // this request only.
        if self.generation.load(Ordering::Acquire) == read_at {
            if transfers.len() >= CACHE_SWEEP_THRESHOLD {
                transfers.retain(|_, entry| entry.valid_until > now);
            }
            transfers.insert(
                account.to_owned(),
                CachedTransfers {
                    containers: Arc::clone(&containers),
                    valid_until: now + self.cache_ttl,
                },
            );
        }
        Ok(containers)
    }

    /// Whether `container` of `account` holds a transferred workspace (see
    /// [`Self::transferred_containers`]).
    pub async fn is_transferred(&self, account: &str, container: &str) -> Result<bool, SwiftError> {
        Ok(self
            .transferred_containers(account)
            .await?
            .iter()
            .any(|c| c == container))
    }

    /// TempAuth: logs `user` in and checks that the user belongs to
    /// `account_name` (the part of `X-Auth-User` before the colon).
    pub async fn login(
        &self,
        account_name: &str,
        user: &str,
        key: &str,
        token_ttl_secs: u64,
    ) -> Result<LoginOutcome, SwiftError> {
        let args = LoginArgs {
            username: user.to_owned(),
            password: Password(key.to_owned()),
            device: DeviceArgs {
                device_name: "swift-tempauth".into(),
                os: None,
                app_version: Some(concat!("nimbus-proxy/", env!("CARGO_PKG_VERSION")).into()),
            },
            token_ttl_secs: Some(token_ttl_secs),
        };
        let reply = match self.rpc.login(args).await {
            Ok(reply) => reply,
            Err(error) if is_rejection(&error) => return Ok(LoginOutcome::Rejected),
            Err(error) => return Err(SwiftError::RpcUnavailable(error)),
        };
        let Some(identity) = self.resolve(&reply.token).await? else {
            return Ok(LoginOutcome::Rejected);
        };
        if identity.account != format!("{ACCOUNT_PREFIX}{account_name}") {
            self.forget(&reply.token);
            if let Err(error) = self.rpc.logout(&reply.token).await {
                tracing::warn!(%error, "revoking a token of the wrong account failed");
            }
            return Ok(LoginOutcome::Rejected);
        }
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let expires_in = reply.expires_at.map_or(token_ttl_secs, |at| {
            u64::try_from((at - now_ms) / 1000).unwrap_or(0)
        });
        Ok(LoginOutcome::LoggedIn {
            token: reply.token,
            expires_in,
            identity,
        })
    }

    /// The caller behind `token`, or `None` when the token is unknown,
    /// revoked or expired.
    pub async fn identify(&self, token: &str) -> Result<Option<Arc<Identity>>, SwiftError> {
        if let Some(identity) = self.cached(token) {
            return Ok(Some(identity));
        }
        self.resolve(&DeviceToken(token.to_owned())).await
    }

    /// After `identity` (the caller behind `token`) was refused `access` to
    /// `container` of `account`: the identity fetched again from the metadata
    /// servers when that could change the answer, else `None`.
    ///
    /// A cached identity predates workspaces created or shared since, so a
    /// caller without a grant for the container may just have received one.
    /// Concurrent requests share one fetch, and a token is fetched this way
    /// at most once per [`FORCED_REFRESH_INTERVAL`].
    pub async fn refresh_for_container(
        &self,
        token: &str,
        identity: &Arc<Identity>,
        account: &str,
        container: &str,
        access: Access,
    ) -> Result<Option<Arc<Identity>>, SwiftError> {
        if access == Access::Manage || identity.grant(account, container).is_some() {
            return Ok(None);
        }
        let forced_refresh = {
            let cache = self.cache.lock().expect("token cache lock poisoned");
            match cache.get(token) {
                Some(entry) => Arc::clone(&entry.forced_refresh),
                // Swept since this request began: it is fetched anew anyway.
                None => return Ok(None),
            }
        };
        let mut last_forced = forced_refresh.lock().await;
        if let Some(current) = self.cached(token)
            && !Arc::ptr_eq(&current, identity)
        {
            // Another request fetched it while this one waited.
            return Ok(Some(current));
        }
        if last_forced.is_some_and(|at| at.elapsed() < FORCED_REFRESH_INTERVAL) {
            return Ok(None);
        }
        *last_forced = Some(Instant::now());
        let token = DeviceToken(token.to_owned());
        let fresh = self.resolve(&token).await?;
        if fresh.is_none() {
            // Revoked or expired: later requests must not be served from the cache.
            self.forget(&token);
        }
        Ok(fresh)
    }

    fn cached(&self, token: &str) -> Option<Arc<Identity>> {
        let cache = self.cache.lock().expect("token cache lock poisoned");
        cache
            .get(token)
            .filter(|entry| entry.valid_until > Instant::now())
            .map(|entry| Arc::clone(&entry.identity))
    }

    fn forget(&self, token: &DeviceToken) {
        self.cache
            .lock()
            .expect("token cache lock poisoned")
            .remove(&token.0);
    }

    /// Asks the metadata servers who `token` is, creates the containers of the
    /// caller's own workspaces, and caches the answer.
    async fn resolve(&self, token: &DeviceToken) -> Result<Option<Arc<Identity>>, SwiftError> {
        let read_at = self.generation.load(Ordering::Acquire);
        let account = match self.rpc.get_account(token).await {
            Ok(account) => account,
            Err(error) if is_rejection(&error) => return Ok(None),
            Err(error) => return Err(SwiftError::RpcUnavailable(error)),
        };
        let workspaces = self
            .rpc
            .get_workspaces(token)
            .await
            .map_err(SwiftError::RpcUnavailable)?;
        for workspace in workspaces
            .iter()
            .filter(|w| w.role == Role::Owner && w.storage_account == account.storage_account)
        {
            // Left as they are when they exist: a refused request changes nothing.
            self.index
                .ensure_container(&workspace.storage_account, &workspace.container)
                .await?;
        }
        let token_lifetime = account.token_expires_at.map(time_until);
        let identity = Arc::new(Identity::from_rpc(account, &workspaces));
        let now = Instant::now();
        let mut cache = self.cache.lock().expect("token cache lock poisoned");
        // Checked under the lock that invalidations take before bumping it:
        // an answer read before an access change serves this request only.
        if self.generation.load(Ordering::Acquire) != read_at {
            return Ok(Some(identity));
        }
        if cache.len() >= CACHE_SWEEP_THRESHOLD {
            cache.retain(|_, entry| entry.valid_until > now);
        }
        // A token's refresh limit outlives the identities fetched for it.
        let forced_refresh = cache
            .get(&token.0)
            .map(|entry| Arc::clone(&entry.forced_refresh))
            .unwrap_or_default();
        cache.insert(
            token.0.clone(),
            CachedIdentity {
                identity: Arc::clone(&identity),
                // Never past the token's own expiry.
                valid_until: now
                    + token_lifetime.map_or(self.cache_ttl, |left| left.min(self.cache_ttl)),
                forced_refresh,
            },
        );
        Ok(Some(identity))
    }
}

/// The time from now until `millis` since the epoch (zero if past).
fn time_until(millis: i64) -> Duration {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    u64::try_from(i128::from(millis) - now).map_or(Duration::ZERO, Duration::from_millis)
}

/// Whether the metadata servers refused the credentials or token (as opposed
/// to being unreachable).
fn is_rejection(error: &nimbus_protocol::ClientError) -> bool {
    matches!(
        error.rpc_code(),
        Some(
            ErrorCode::InvalidCredentials
                | ErrorCode::Unauthenticated
                | ErrorCode::AccountDisabled
                | ErrorCode::TooManyAttempts
                | ErrorCode::BadRequest
        )
    )
}
