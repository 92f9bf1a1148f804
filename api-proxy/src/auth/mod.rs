//! Who is calling: tokens are the metadata servers' device tokens, checked over
//! the RPC and cached briefly ([`Authenticator`]); what they may do is decided
//! by account ownership, workspace membership and container ACLs ([`acl`]).

pub mod acl;
pub mod tempauth;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nimbus_protocol::RpcClient;
use nimbus_protocol::rpc::{
    Account, DeviceArgs, DeviceToken, ErrorCode, LoginArgs, Password, Role, WorkspaceInfo,
};

use crate::error::SwiftError;
use crate::index::{ContainerUpdate, ObjectIndex};

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
    pub user_name: String,
    /// The caller's Swift account, `AUTH_<account name>`.
    pub account: String,
    /// Whether the caller administers `account` (Swift's `.admin`).
    pub account_admin: bool,
    pub workspaces: Vec<WorkspaceGrant>,
}

impl Identity {
    fn from_rpc(account: Account, workspaces: &[WorkspaceInfo]) -> Self {
        Self {
            user_name: account.username,
            account: account.storage_account,
            account_admin: account.account_admin,
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
}

struct CachedIdentity {
    identity: Arc<Identity>,
    valid_until: Instant,
}

/// Above this many cached tokens, expired entries are swept on insert.
const CACHE_SWEEP_THRESHOLD: usize = 10_000;

/// Checks credentials and tokens with the metadata servers and remembers
/// valid tokens for a short time.
pub struct Authenticator {
    rpc: RpcClient,
    index: Arc<dyn ObjectIndex>,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, CachedIdentity>>,
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
        }
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
            self.index
                .put_container(
                    &workspace.storage_account,
                    &workspace.container,
                    &ContainerUpdate::default(),
                )
                .await?;
        }
        let identity = Arc::new(Identity::from_rpc(account, &workspaces));
        let now = Instant::now();
        let mut cache = self.cache.lock().expect("token cache lock poisoned");
        if cache.len() >= CACHE_SWEEP_THRESHOLD {
            cache.retain(|_, entry| entry.valid_until > now);
        }
        cache.insert(
            token.0.clone(),
            CachedIdentity {
                identity: Arc::clone(&identity),
                valid_until: now + self.cache_ttl,
            },
        );
        Ok(Some(identity))
    }
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
