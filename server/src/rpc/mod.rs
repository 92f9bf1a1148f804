//! The operations a metadata server answers, one module each.
//!
//! [`dispatch`] authenticates the request (every operation but `login` needs a
//! device token; the user and device come from the token, never from the
//! message), then hands it to the operation's `run`. An operation returns the
//! JSON body of its reply and, when it changed a workspace, the notification
//! to publish once the change is durable. Operations use the database through
//! [`ServerState`]; `subscribe` also acts on the broker, through [`Amqp`].

mod commit;
mod create_workspace;
mod get_account;
mod get_changes;
mod get_item;
mod get_versions;
mod get_workspaces;
mod list_devices;
mod list_folder;
mod list_oauth_tokens;
mod login;
mod logout;
mod oauth;
mod oauth_access_token;
mod oauth_authenticate;
mod oauth_authorize;
mod oauth_request_info;
mod oauth_request_token;
mod register_device;
mod revoke_device;
mod revoke_oauth_token;
mod subscribe;
mod update_device;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use lapin::Connection;
use nimbus_protocol::Topology;
use nimbus_protocol::notify::Notification;
use nimbus_protocol::rpc::{DeviceToken, Operation, Request, Role, TimestampMillis};
use serde::Serialize;
use uuid::Uuid;

pub use oauth::OAUTH_TIMESTAMP_WINDOW_SECS;

use crate::auth::token_hash;
use crate::error::OperationError;
use crate::storage::{Caller, MetadataStore};

/// What every operation may use.
pub struct ServerState {
    pub store: Arc<dyn MetadataStore>,
    /// Public base URL of the object store (the proxy), for `getAccount`.
    pub storage_url: String,
    /// Requests this server has taken on (parsed), for logs and load tests.
    pub requests_handled: AtomicU64,
    /// See [`crate::config::Settings::oauth_plaintext_over_http`].
    pub oauth_plaintext_over_http: bool,
}

/// The broker connection a request arrived on.
pub struct Amqp<'a> {
    pub connection: &'a Connection,
    pub topology: &'a Topology,
}

/// An operation's answer.
#[derive(Debug)]
pub struct Reply {
    pub body: serde_json::Value,
    /// Published after the reply's change is durable.
    pub notification: Option<Notification>,
}

impl Reply {
    fn json(body: impl Serialize) -> Result<Self, OperationError> {
        Ok(Self {
            body: serde_json::to_value(body)
                .map_err(|e| OperationError::BadRequest(format!("cannot encode the reply: {e}")))?,
            notification: None,
        })
    }
}

pub async fn dispatch(
    state: &ServerState,
    amqp: &Amqp<'_>,
    request: Request,
) -> Result<Reply, OperationError> {
    let Request {
        request_id,
        token,
        operation,
    } = request;
    // Operations that authenticate by password or OAuth signature.
    let operation = match operation {
        Operation::Login(args) => return login::run(state, args).await,
        Operation::OauthRequestToken { request } => {
            return oauth_request_token::run(state, request).await;
        }
        Operation::OauthRequestInfo { request_token } => {
            return oauth_request_info::run(state, &request_token).await;
        }
        Operation::OauthAuthorize {
            request_token,
            username,
            password,
        } => return oauth_authorize::run(state, &request_token, &username, password).await,
        Operation::OauthAccessToken { request } => {
            return oauth_access_token::run(state, request).await;
        }
        Operation::OauthAuthenticate { request } => {
            return oauth_authenticate::run(state, request).await;
        }
        other => other,
    };
    let caller = authenticate(state, token.as_ref()).await?;
    match operation {
        Operation::Login(_)
        | Operation::OauthRequestToken { .. }
        | Operation::OauthRequestInfo { .. }
        | Operation::OauthAuthorize { .. }
        | Operation::OauthAccessToken { .. }
        | Operation::OauthAuthenticate { .. } => unreachable!("handled before authentication"),
        Operation::Logout => logout::run(state, &caller).await,
        Operation::RegisterDevice(args) => register_device::run(state, &caller, args).await,
        Operation::UpdateDevice(args) => update_device::run(state, &caller, args).await,
        Operation::ListDevices => list_devices::run(state, &caller).await,
        Operation::RevokeDevice { device_id } => {
            revoke_device::run(state, &caller, device_id).await
        }
        Operation::GetAccount => get_account::run(state, &caller).await,
        Operation::GetWorkspaces => get_workspaces::run(state, &caller).await,
        Operation::CreateWorkspace(args) => create_workspace::run(state, &caller, args).await,
        Operation::GetChanges(args) => get_changes::run(state, &caller, args).await,
        Operation::Commit(args) => commit::run(state, &caller, request_id, args).await,
        Operation::GetItem { item_id } => get_item::run(state, &caller, item_id).await,
        Operation::ListFolder {
            workspace_id,
            folder_id,
        } => list_folder::run(state, &caller, workspace_id, folder_id).await,
        Operation::GetVersions { item_id } => get_versions::run(state, &caller, item_id).await,
        Operation::ListOauthTokens => list_oauth_tokens::run(state, &caller).await,
        Operation::RevokeOauthToken { access_token } => {
            revoke_oauth_token::run(state, &caller, &access_token).await
        }
        Operation::Subscribe { queue } => subscribe::run(state, amqp, &caller, queue).await,
    }
}

async fn authenticate(
    state: &ServerState,
    token: Option<&DeviceToken>,
) -> Result<Caller, OperationError> {
    let token = token.ok_or(OperationError::Unauthenticated)?;
    state
        .store
        .authenticate(&token_hash(token))
        .await?
        .ok_or(OperationError::Unauthenticated)
}

/// The caller's role in a workspace; refuses non-members, and read-only
/// members when `write` is asked. A workspace that does not exist is refused
/// the same way, so that ids do not leak.
async fn require_role(
    state: &ServerState,
    caller: &Caller,
    workspace_id: Uuid,
    write: bool,
) -> Result<Role, OperationError> {
    let role = state
        .store
        .role_in(workspace_id, caller.user_id)
        .await?
        .ok_or(OperationError::Forbidden(
            "this workspace does not exist or you are not a member of it",
        ))?;
    if write && !role.can_write() {
        return Err(OperationError::Forbidden(
            "you can read this workspace but not change it",
        ));
    }
    Ok(role)
}

fn now_millis() -> TimestampMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
