//! The operations a metadata server answers, one module each.
//!
//! [`dispatch`] authenticates the request (every operation but `login` needs a
//! device token; the user and device come from the token, never from the
//! message), holds the device to its request rate ([`crate::rate`]), then hands it to the operation's `run`. An operation returns the
//! JSON body of its reply and, when it changed a workspace, the notification
//! to publish once the change is durable, and the user events of a sharing
//! step. Operations use the database through [`ServerState`]; `subscribe` and
//! the operations that change memberships also act on the broker, through
//! [`Amqp`] ([`bindings`]).

mod accept_proposal;
mod admin_add_oauth_app;
mod admin_add_user;
mod admin_audit_log;
mod admin_delete_user;
mod admin_health;
mod admin_list_users;
mod admin_overview;
mod admin_remove_oauth_app;
mod admin_revoke_link;
mod admin_update_user;
mod admin_user_workspaces;
mod bindings;
mod cancel_proposal;
mod change_password;
mod chunks_stored;
mod collect_chunks;
mod commit;
mod convert_folder;
mod create_link;
mod create_workspace;
mod decline_proposal;
mod get_account;
mod get_changes;
mod get_item;
mod get_versions;
mod get_workspaces;
mod leave_workspace;
mod list_devices;
mod list_folder;
mod list_links;
mod list_members;
mod list_oauth_tokens;
mod list_proposals;
mod login;
mod logout;
mod membership;
mod oauth;
mod oauth_access_token;
mod oauth_authenticate;
mod oauth_authorize;
mod oauth_request_info;
mod oauth_request_token;
mod open_link;
mod propose_share;
mod prune_chunk_claims;
mod purge_item;
mod referenced_chunks;
mod register_device;
mod rekey;
mod remove_member;
mod report_missing_content;
mod revoke_device;
mod revoke_link;
mod revoke_oauth_token;
mod set_member_role;
mod subscribe;
mod transfer_ownership;
mod transferred_containers;
mod unshare_workspace;
mod update_device;
mod update_mount;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{SystemTime, UNIX_EPOCH};

use lapin::Connection;
use nimbus_protocol::Topology;
use nimbus_protocol::notify::{Notification, UserEvent, WorkspaceEvent};
use nimbus_protocol::rpc::{
    DeviceToken, Operation, Request, RetentionPolicy, Role, TimestampMillis,
};
use serde::Serialize;
use uuid::Uuid;

pub use oauth::OAUTH_TIMESTAMP_WINDOW_SECS;

use crate::auth::token_hash;
use crate::error::OperationError;
use crate::metrics::ServerMetrics;
use crate::rate::DeviceRate;
use crate::storage::{Actor, Caller, MetadataStore};

/// What every operation may use.
pub struct ServerState {
    pub store: Arc<dyn MetadataStore>,
    /// Public base URL of the object store (the proxy), for `getAccount`.
    pub storage_url: String,
    /// What the retention job keeps, as `getAccount` tells users.
    pub retention: RetentionPolicy,
    /// Requests this server has taken on (parsed), for logs and load tests.
    pub requests_handled: AtomicU64,
    /// Each device's request budget on this server.
    pub device_rate: DeviceRate,
    /// See [`crate::config::Settings::oauth_plaintext_over_http`].
    pub oauth_plaintext_over_http: bool,
    pub metrics: ServerMetrics,
    /// Whether this server is consuming the request queue now (set by
    /// [`crate::broker::run`]), for `/readyz`.
    pub broker_connected: AtomicBool,
}

/// The broker connection a request arrived on.
pub struct Amqp<'a> {
    pub connection: &'a Connection,
    pub topology: &'a Topology,
    /// The RabbitMQ user of the services (this server's own): requests
    /// published as it are the proxy's service calls. Devices connect as
    /// another user (`public_amqp_url`), and RabbitMQ refuses a message
    /// whose `user_id` is not the user of its connection.
    pub service_user: Option<&'a str>,
}

/// An operation's answer.
#[derive(Debug)]
pub struct Reply {
    pub body: serde_json::Value,
    /// Published after the reply's change is durable.
    pub notification: Option<Notification>,
    /// Published after the reply's change is durable, each to its user's key.
    pub user_events: Vec<(Uuid, UserEvent)>,
    /// Published to its workspace's key.
    pub workspace_event: Option<WorkspaceEvent>,
}

impl Reply {
    fn json(body: impl Serialize) -> Result<Self, OperationError> {
        Ok(Self {
            body: serde_json::to_value(body)
                .map_err(|e| OperationError::BadRequest(format!("cannot encode the reply: {e}")))?,
            notification: None,
            user_events: Vec::new(),
            workspace_event: None,
        })
    }

    fn with_events(mut self, events: impl IntoIterator<Item = (Uuid, UserEvent)>) -> Self {
        self.user_events.extend(events);
        self
    }

    fn with_workspace_event(mut self, event: WorkspaceEvent) -> Self {
        self.workspace_event = Some(event);
        self
    }
}

/// Answers `request`, published by the RabbitMQ user `sender` (its
/// `user_id` property, which RabbitMQ validated).
pub async fn dispatch(
    state: &ServerState,
    amqp: &Amqp<'_>,
    sender: Option<&str>,
    request: Request,
) -> Result<Reply, OperationError> {
    let Request {
        request_id,
        token,
        operation,
        ..
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
        // The link's token is the credential.
        Operation::OpenLink(args) => return open_link::run(state, args).await,
        // Service calls: authorized by the broker user, not by a token.
        Operation::UnreferencedChunks {
            storage_account,
            container,
            chunk_ids,
        } => {
            require_service(amqp, sender)?;
            return collect_chunks::unreferenced(state, (&storage_account, &container), chunk_ids)
                .await;
        }
        Operation::CollectChunks {
            storage_account,
            container,
            claim,
            chunk_ids,
        } => {
            require_service(amqp, sender)?;
            return collect_chunks::run(state, (&storage_account, &container), claim, chunk_ids)
                .await;
        }
        Operation::ChunksStored {
            storage_account,
            container,
            up_to,
            chunk_ids,
        } => {
            require_service(amqp, sender)?;
            return chunks_stored::run(state, (&storage_account, &container), up_to, chunk_ids)
                .await;
        }
        Operation::PruneChunkClaims { floor } => {
            require_service(amqp, sender)?;
            return prune_chunk_claims::run(state, floor).await;
        }
        Operation::ListVersionsToRekey { after, limit } => {
            require_service(amqp, sender)?;
            return rekey::list(state, after, limit).await;
        }
        Operation::RekeyVersion(args) => {
            require_service(amqp, sender)?;
            return rekey::rekey(state, request_id, args).await;
        }
        Operation::TransferredContainers { storage_account } => {
            require_service(amqp, sender)?;
            return transferred_containers::run(state, &storage_account).await;
        }
        // Administration without a token: the command line, as the services.
        Operation::AdminDeleteUser(args) if token.is_none() => {
            require_service(amqp, sender)?;
            return admin_delete_user::run(state, amqp, &Actor::command_line(), args).await;
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
        | Operation::OauthAuthenticate { .. }
        | Operation::OpenLink(_)
        | Operation::UnreferencedChunks { .. }
        | Operation::CollectChunks { .. }
        | Operation::ChunksStored { .. }
        | Operation::PruneChunkClaims { .. }
        | Operation::ListVersionsToRekey { .. }
        | Operation::RekeyVersion(_)
        | Operation::TransferredContainers { .. } => unreachable!("handled before authentication"),
        Operation::ConvertFolder(args) => {
            convert_folder::run(state, amqp, &caller, request_id, args).await
        }
        Operation::Logout => logout::run(state, amqp, &caller).await,
        Operation::ChangePassword(args) => change_password::run(state, amqp, &caller, args).await,
        Operation::RegisterDevice(args) => register_device::run(state, &caller, args).await,
        Operation::UpdateDevice(args) => update_device::run(state, &caller, args).await,
        Operation::ListDevices => list_devices::run(state, &caller).await,
        Operation::RevokeDevice { device_id } => {
            revoke_device::run(state, amqp, &caller, device_id).await
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
        Operation::ProposeShare(args) => propose_share::run(state, &caller, args).await,
        Operation::ListProposals => list_proposals::run(state, &caller).await,
        Operation::AcceptProposal(args) => accept_proposal::run(state, amqp, &caller, args).await,
        Operation::DeclineProposal { proposal_id } => {
            decline_proposal::run(state, &caller, proposal_id).await
        }
        Operation::CancelProposal { proposal_id } => {
            cancel_proposal::run(state, &caller, proposal_id).await
        }
        Operation::ListMembers { workspace_id } => {
            list_members::run(state, &caller, workspace_id).await
        }
        Operation::SetMemberRole {
            workspace_id,
            user_id,
            role,
        } => set_member_role::run(state, &caller, workspace_id, user_id, role).await,
        Operation::RemoveMember {
            workspace_id,
            user_id,
        } => remove_member::run(state, amqp, &caller, workspace_id, user_id).await,
        Operation::LeaveWorkspace { workspace_id } => {
            leave_workspace::run(state, amqp, &caller, workspace_id).await
        }
        Operation::TransferOwnership {
            workspace_id,
            user_id,
        } => transfer_ownership::run(state, &caller, workspace_id, user_id).await,
        Operation::UnshareWorkspace { workspace_id } => {
            unshare_workspace::run(state, amqp, &caller, workspace_id).await
        }
        Operation::UpdateMount(args) => update_mount::run(state, &caller, args).await,
        Operation::ReferencedChunks {
            storage_account,
            container,
            chunk_ids,
        } => referenced_chunks::run(state, &caller, &storage_account, &container, chunk_ids).await,
        Operation::ReportMissingContent { item_id } => {
            report_missing_content::run(state, &caller, item_id).await
        }
        Operation::CreateLink(args) => create_link::run(state, &caller, args).await,
        Operation::ListLinks => list_links::run(state, &caller).await,
        Operation::RevokeLink { link_id } => revoke_link::run(state, &caller, link_id).await,
        Operation::PurgeItem { item_id } => {
            purge_item::run(state, &caller, request_id, item_id).await
        }
        Operation::AdminDeleteUser(args) => {
            let actor = require_admin(&caller)?;
            admin_delete_user::run(state, amqp, &actor, args).await
        }
        Operation::AdminListUsers => {
            require_admin(&caller)?;
            admin_list_users::run(state).await
        }
        Operation::AdminAddUser(args) => {
            let actor = require_admin(&caller)?;
            admin_add_user::run(state, &actor, args).await
        }
        Operation::AdminUpdateUser(args) => {
            let actor = require_admin(&caller)?;
            admin_update_user::run(state, amqp, &actor, args).await
        }
        Operation::AdminAuditLog(query) => {
            require_admin(&caller)?;
            admin_audit_log::run(state, query).await
        }
        Operation::AdminOverview(query) => {
            require_admin(&caller)?;
            admin_overview::run(state, query).await
        }
        Operation::AdminHealth => {
            require_admin(&caller)?;
            admin_health::run(state, amqp).await
        }
        Operation::AdminUserWorkspaces { username } => {
            require_admin(&caller)?;
            admin_user_workspaces::run(state, &username).await
        }
        Operation::AdminAddOauthApp(args) => {
            let actor = require_admin(&caller)?;
            admin_add_oauth_app::run(state, &actor, args).await
        }
        Operation::AdminRemoveOauthApp { consumer_key } => {
            let actor = require_admin(&caller)?;
            admin_remove_oauth_app::run(state, &actor, &consumer_key).await
        }
        Operation::AdminRevokeLink { link_id } => {
            let actor = require_admin(&caller)?;
            admin_revoke_link::run(state, &actor, link_id).await
        }
    }
}

/// An administration helper's error ([`crate::admin`]): the store's as
/// such (an unavailable database stays retryable), any other (a rule the
/// input broke) as a bad request carrying its explanation.
fn admin_refusal(error: anyhow::Error) -> OperationError {
    match error.downcast::<crate::storage::StoreError>() {
        Ok(store) => OperationError::Store(store),
        Err(other) => OperationError::BadRequest(format!("{other:#}")),
    }
}

/// The administrator the caller is, or a refusal.
fn require_admin(caller: &Caller) -> Result<Actor, OperationError> {
    if !caller.is_admin {
        return Err(OperationError::Forbidden(
            "only an administrator of this Nimbus may do this",
        ));
    }
    Ok(Actor::user(caller.user_id, &caller.username))
}

async fn authenticate(
    state: &ServerState,
    token: Option<&DeviceToken>,
) -> Result<Caller, OperationError> {
    let token = token.ok_or(OperationError::Unauthenticated)?;
    let caller = state
        .store
        .authenticate(&token_hash(token))
        .await?
        .ok_or(OperationError::Unauthenticated)?;
    state
        .device_rate
        .check(caller.device_id)
        .map_err(OperationError::TooManyRequests)?;
    Ok(caller)
}

/// The caller's role in a workspace; refuses non-members, and read-only
/// members when `write` is asked. A workspace that does not exist is refused
/// the same way, so that ids do not leak.
/// Refuses a service operation that the services' RabbitMQ user did not
/// publish: a device, whatever its token, may not make it.
fn require_service(amqp: &Amqp<'_>, sender: Option<&str>) -> Result<(), OperationError> {
    match (amqp.service_user, sender) {
        (Some(service), Some(sender)) if service == sender => Ok(()),
        _ => Err(OperationError::Forbidden(
            "only the Nimbus services may make this request",
        )),
    }
}

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
