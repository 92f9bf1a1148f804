//! What the administration operations (`Operation::Admin*`) carry. Only an
//! administrator of the installation (`is_admin`) may make them; the
//! metadata server checks it on every request.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rpc::{LinkInfo, Member, Password, Proposal, TimestampMillis, WorkspaceInfo};

/// A user to delete, with the administrator's decision for every workspace
/// the user owns that others are members of: handed to one of its members,
/// or deleted. Without a decision for each, nothing is deleted and the
/// refusal names them. Every other workspace of the user is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteUserArgs {
    pub username: String,
    #[serde(default)]
    pub transfers: Vec<WorkspaceTransfer>,
    /// Shared workspaces to delete with what they hold.
    #[serde(default)]
    pub delete_shared: Vec<Uuid>,
}

/// A workspace to hand to one of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceTransfer {
    pub workspace_id: Uuid,
    /// The member's user name.
    pub to: String,
}

/// What deleting a user did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedUserReply {
    pub deleted_workspaces: Vec<Uuid>,
    pub transferred_workspaces: Vec<Uuid>,
    pub revoked_devices: u64,
}

/// A user as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub user_id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    /// The current version of every live file of the workspaces they own.
    pub logical_bytes: u64,
    /// The chunks their retained versions reference: what quota counts.
    pub stored_bytes: u64,
    pub quota_bytes: u64,
    pub created_at: TimestampMillis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminAddUserArgs {
    pub username: String,
    pub password: Password,
    #[serde(default)]
    pub email: Option<String>,
    pub quota_bytes: u64,
    #[serde(default)]
    pub is_admin: bool,
}

/// One change of a user; exactly one field is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminUpdateUserArgs {
    pub username: String,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    #[serde(default)]
    pub password: Option<Password>,
}

/// Which audit records to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Records this user made or was the target of.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub since: Option<TimestampMillis>,
    /// At most this many (capped at [`MAX_AUDIT_ENTRIES`]).
    pub limit: u32,
}

pub const MAX_AUDIT_ENTRIES: u32 = 1000;

/// One record of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: TimestampMillis,
    /// Who acted: a user name, `administrator` (the command line), or the
    /// name typed at a failed sign-in.
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub workspace_id: Option<Uuid>,
    pub detail: String,
}

/// A registered OAuth application, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthApplication {
    pub consumer_key: String,
    pub name: String,
    pub callback_url: Option<String>,
}

/// A public link with its creator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminLink {
    pub link: LinkInfo,
    pub creator: String,
}

/// Public links one page of the overview shows.
pub const ADMIN_LINKS_PAGE: u32 = 100;

/// Which page of the overview's public links to read. Without fields (as
/// before links were paged): the first page of everyone's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminOverviewQuery {
    /// Only the links this user made.
    pub links_creator: Option<String>,
    /// From 1; past the last page, the last page.
    pub links_page: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub applications: Vec<OAuthApplication>,
    /// Newest first.
    pub proposals: Vec<Proposal>,
    /// One page of at most [`ADMIN_LINKS_PAGE`] links, newest first.
    pub links: Vec<AdminLink>,
    /// The page `links` is, from 1.
    #[serde(default)]
    pub links_page: u32,
    /// How many links there are on all pages.
    #[serde(default)]
    pub links_total: u64,
}

/// The request queue as the answering metadata server sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHealth {
    pub request_queue: String,
    /// Metadata servers consuming it.
    pub metadata_servers: u32,
    /// Requests waiting in it.
    pub queued_requests: u32,
    /// Whether the answering server reached its database just now.
    pub database_ok: bool,
}

/// A workspace of the user an administrator looks at before deleting them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminWorkspace {
    /// As the user sees it (their name for it, their role).
    pub workspace: WorkspaceInfo,
    /// Bytes charged to its owner for it.
    pub usage_bytes: u64,
    /// Everyone in it, the user included.
    pub members: Vec<Member>,
}

/// `adminUserWorkspaces`: what a user owns and what they are a member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserWorkspaces {
    pub owned: Vec<AdminWorkspace>,
    pub member_of: Vec<AdminWorkspace>,
}

/// `adminAddOauthApp`: an OAuth application to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddOAuthAppArgs {
    pub name: String,
    /// Where the authorize page sends the user back; `None`: out of band only.
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// A newly registered OAuth application with its consumer secret, which
/// is told this once only. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOAuthApplication {
    pub application: OAuthApplication,
    pub consumer_secret: String,
}

impl fmt::Debug for NewOAuthApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOAuthApplication")
            .field("application", &self.application)
            .field("consumer_secret", &"<redacted>")
            .finish()
    }
}
