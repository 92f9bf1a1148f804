//! The metadata RPC: one JSON request envelope, one operation per variant, and
//! a reply that is either the operation's result or an [`RpcError`].
//!
//! ```json
//! {"request_id":"…","token":"…","op":"getChanges","workspace_id":"…","since":41}
//! {"ok":{"items":[…],"revision":42,"next_page":null}}
//! {"error":{"code":"forbidden","message":"…"}}
//! ```
//!
//! The caller never names itself: the server derives user and device from the
//! bearer `token` (or, for `login`, from the credentials). A request id
//! identifies one logical request across retries: a re-sent `commit` with the
//! same id returns the first answer and changes nothing.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin::{
    AddOAuthAppArgs, AdminAddUserArgs, AdminOverviewQuery, AdminUpdateUserArgs, AuditQuery,
    DeleteUserArgs,
};
use crate::oauth1::OAuthRequest;
use crate::trace::TraceId;

/// A workspace revision. Every commit that changes a workspace bumps it by one;
/// `getChanges` takes it as its cursor.
pub type Revision = u64;

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMillis = i64;

/// A device's bearer token. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceToken(pub String);

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceToken(<redacted>)")
    }
}

/// `changePassword`: the current password, checked (and slowed after
/// failures) as `login` checks it, and the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordArgs {
    pub old_password: Password,
    pub new_password: Password,
}

/// A password in transit. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// What travels on the request queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub request_id: Uuid,
    /// Required by every operation except `login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<DeviceToken>,
    /// The user-facing request this call serves, for logs only
    /// ([`crate::trace`]). Optional: older callers send none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::trace::deserialize_lenient"
    )]
    pub trace_id: Option<TraceId>,
    #[serde(flatten)]
    pub operation: Operation,
}

/// Every operation a metadata server answers, tagged by `op`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Operation {
    /// Credentials + device name → a new device and its token. Reply: [`LoginReply`].
    Login(LoginArgs),
    /// Revokes the caller's token. Reply: `null`.
    Logout,
    /// Changes the caller's user's password, given the current one. The
    /// caller stays signed in; every other device of the user is revoked.
    /// Reply: `null`.
    ChangePassword(ChangePasswordArgs),
    /// Registers another device of the caller's user. Reply: [`LoginReply`].
    RegisterDevice(DeviceArgs),
    /// Updates the caller's device description. Reply: [`DeviceInfo`].
    UpdateDevice(DeviceArgs),
    /// Reply: `Vec<DeviceInfo>` of the caller's user.
    ListDevices,
    /// Revokes one of the caller's user's devices. Reply: `null`.
    RevokeDevice { device_id: Uuid },
    /// Reply: [`Account`].
    GetAccount,
    /// Reply: `Vec<WorkspaceInfo>`.
    GetWorkspaces,
    /// Creates a workspace owned by the caller. Reply: [`WorkspaceInfo`].
    CreateWorkspace(CreateWorkspaceArgs),
    /// Reply: [`Changes`].
    GetChanges(GetChangesArgs),
    /// Reply: [`CommitReply`].
    Commit(CommitArgs),
    /// The latest state of one item (with its chunks), in whichever of the
    /// caller's workspaces it is. Reply: [`LocatedItem`].
    GetItem { item_id: Uuid },
    /// The live items directly in a folder (`None`: the top of the
    /// workspace). Reply: `Vec<ItemState>`.
    ListFolder {
        workspace_id: Uuid,
        folder_id: Option<Uuid>,
    },
    /// Every version of an item, newest first, each with its own name, place
    /// and chunks. Reply: [`ItemHistory`].
    GetVersions { item_id: Uuid },
    /// OAuth step 1, signed by the consumer. Reply: [`OAuthTokenReply`].
    OauthRequestToken { request: OAuthRequest },
    /// What the authorize page shows about a request token. Reply: [`OAuthRequestInfo`].
    OauthRequestInfo { request_token: String },
    /// OAuth step 2: the user logs in on the authorize page and allows access.
    /// Reply: [`OAuthAuthorizeReply`].
    OauthAuthorize {
        request_token: String,
        username: String,
        password: Password,
    },
    /// OAuth step 3, signed with the request token. Reply: [`OAuthTokenReply`].
    OauthAccessToken { request: OAuthRequest },
    /// Verifies a request signed with an access token. Reply: [`OAuthIdentity`].
    OauthAuthenticate { request: OAuthRequest },
    /// The caller's user's OAuth access tokens. Reply: `Vec<OAuthTokenInfo>`.
    ListOauthTokens,
    /// Revokes one of the caller's user's OAuth access tokens. Reply: `null`.
    RevokeOauthToken { access_token: String },
    /// Binds the caller's notification queue, a server-named (`amq.gen-…`)
    /// queue it declared and consumes, to the notifications of every
    /// workspace its user is a member of and of the user itself. The server
    /// chooses the routing keys: clients may not bind to the notification
    /// exchange themselves. Reply: `null`.
    Subscribe { queue: String },
    /// Offers a workspace the caller owns to other users, by user name or
    /// e-mail, with a role (`editor` or `viewer`). Reply: `Vec<Proposal>`,
    /// one per addressee.
    ProposeShare(ProposeShareArgs),
    /// Proposals to and from the caller's user, newest first. Reply: [`ProposalList`].
    ListProposals,
    /// Joins the workspace of a pending proposal to the caller's user.
    /// Reply: [`WorkspaceInfo`] (the mount name may carry a ` (2)` suffix).
    AcceptProposal(AcceptProposalArgs),
    /// Reply: [`Proposal`].
    DeclineProposal { proposal_id: Uuid },
    /// Withdraws a pending proposal the caller made (or, for its
    /// workspace's owner, any pending proposal of it). Reply: [`Proposal`].
    CancelProposal { proposal_id: Uuid },
    /// The members of a workspace the caller is a member of. Reply: `Vec<Member>`.
    ListMembers { workspace_id: Uuid },
    /// The owner changes a member's role (`editor` or `viewer`). Reply: [`Member`].
    SetMemberRole {
        workspace_id: Uuid,
        user_id: Uuid,
        role: Role,
    },
    /// The owner ends a member's access. Reply: `null`.
    RemoveMember { workspace_id: Uuid, user_id: Uuid },
    /// A member who is not the owner ends their own access. Reply: `null`.
    LeaveWorkspace { workspace_id: Uuid },
    /// The owner hands the workspace to a member whose quota has room for
    /// its usage; the former owner stays as an editor. Reply: `Vec<Member>`.
    TransferOwnership { workspace_id: Uuid, user_id: Uuid },
    /// The owner ends every other member's access and every pending
    /// proposal; the workspace stays the owner's, in place. Reply: `null`.
    UnshareWorkspace { workspace_id: Uuid },
    /// The caller renames or moves their own mount of a workspace; nobody
    /// else's changes. Reply: [`WorkspaceInfo`].
    UpdateMount(UpdateMountArgs),
    /// Which of `chunk_ids` a retained version of a file references, in the
    /// workspace whose chunks are `container` of `storage_account`. The
    /// proxy asks it, with the caller's token, before a Swift request would
    /// delete or replace a chunk object: only the server's own collection
    /// removes chunks a version needs. At most [`MAX_REFERENCED_CHUNKS_QUERY`]
    /// ids. Reply: `Vec<String>`, the referenced ids (empty when no
    /// workspace keeps its chunks in that container).
    ReferencedChunks {
        storage_account: String,
        container: String,
        chunk_ids: Vec<String>,
    },
    /// Service call (the proxy's collection of unreferenced chunks, sent
    /// as the services' RabbitMQ user): which of `chunk_ids` of the
    /// workspace whose chunks are `container` of `storage_account` no
    /// version references now. Claims nothing: the collection asks it first
    /// so that it records claims (in the index, then with
    /// [`Operation::CollectChunks`], which decides again) only for chunks
    /// that may go. At most [`MAX_REFERENCED_CHUNKS_QUERY`] ids. Reply:
    /// `Vec<String>`, sorted (none when no workspace keeps its chunks in
    /// that container, all when its workspace was deleted).
    UnreferencedChunks {
        storage_account: String,
        container: String,
        chunk_ids: Vec<String>,
    },
    /// Service call (the proxy's collection of unreferenced chunks, sent
    /// as the services' RabbitMQ user, never with a device token): which of
    /// `chunk_ids` of the workspace whose chunks are `container` of
    /// `storage_account` no version references. In the same transaction the
    /// server records them as claimed for collection under `claim` (a
    /// number the proxies' index issued in increasing order, already
    /// recorded there beside the objects), so that from then on a commit
    /// listing one is refused (`contentMissing`) until
    /// [`Operation::ChunksStored`] lifts the claim. A chunk already held
    /// under a later claim, or lifted up to `claim`, is not claimed again.
    /// At most [`MAX_REFERENCED_CHUNKS_QUERY`] ids. Reply: `Vec<String>`,
    /// the ids claimed under `claim` (none when no workspace keeps its
    /// chunks in that container).
    CollectChunks {
        storage_account: String,
        container: String,
        claim: i64,
        chunk_ids: Vec<String>,
    },
    /// Service call: `chunk_ids` are in the object store, and the index has
    /// made sure that no claim up to `up_to` deletes them any more, so
    /// every claim on them up to `up_to` is lifted and commits may list
    /// them. A later claim stays. At most [`MAX_REFERENCED_CHUNKS_QUERY`]
    /// ids. Reply: `null`.
    ChunksStored {
        storage_account: String,
        container: String,
        up_to: i64,
        chunk_ids: Vec<String>,
    },
    /// Service call: no claim below `floor` is made any more (a
    /// [`Operation::CollectChunks`] under one claims nothing), so the records
    /// of chunks whose claims were lifted up to a number below `floor` can
    /// go: none of them changes an answer any more. The floor only rises.
    /// Reply: `u64`, the records removed.
    PruneChunkClaims { floor: i64 },
    /// Service call: the containers of `storage_account` that hold a
    /// workspace another account owns now (its ownership was transferred;
    /// the container stays where its bytes are). They open by workspace
    /// membership only: not to the account's administrators, its account
    /// ACL or its TempURL keys. Reply: `Vec<String>`, sorted.
    TransferredContainers { storage_account: String },
    /// The caller's device could not download the latest version of a file:
    /// chunks of it are missing from the object store. The server pushes a
    /// `content_missing` event ([`crate::notify::WorkspaceEvent`]) to the
    /// workspace, so that a device holding the content uploads them again.
    /// Reply: `null`.
    ReportMissingContent { item_id: Uuid },
    /// Publishes a file or folder of a workspace the caller can read (not
    /// an end-to-end encrypted one) at a public link. Reply: [`CreatedLink`],
    /// the only time the link's token is shown.
    CreateLink(CreateLinkArgs),
    /// The links the caller's user created, newest first. Reply: `Vec<LinkInfo>`.
    ListLinks,
    /// Ends one of the caller's user's links at once. Reply: [`LinkInfo`].
    RevokeLink { link_id: Uuid },
    /// Deletes forever an item in the trash of a workspace the caller can
    /// change: it and everything below it, with all their versions. Refused
    /// for an item that is not in the trash. Reply: [`PurgedItem`].
    PurgeItem { item_id: Uuid },
    /// Turns a live folder of the caller's default workspace into a
    /// workspace of its own (same item ids and history), mounted where the
    /// folder was, so that it can be shared. The folder shows in the source
    /// workspace's delta as deleted with [`ItemState::moved_to`]: a device
    /// hands its copy over to the new mount instead of deleting it. Re-sent
    /// with the same ids after it succeeded, it answers the same.
    /// Reply: [`ConvertedFolder`].
    ConvertFolder(ConvertFolderArgs),
    /// Service call (the proxy's re-keying job, as the services' RabbitMQ
    /// user): file versions whose chunks are still under another
    /// workspace's keys ([`ItemState::chunk_workspace`]), in plain
    /// workspaces only, ordered by (item id, version), after `after`, at
    /// most `limit` (at most [`MAX_REKEY_PAGE`]). Reply: `Vec<VersionToRekey>`.
    ListVersionsToRekey {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<RekeyCursor>,
        limit: u32,
    },
    /// Service call: the version's chunks now exist under its own
    /// workspace's keys in its container; replaces its chunk list and
    /// content hash and clears its `chunk_workspace`, only if that still
    /// names `chunk_workspace` (compare-and-set). Bumps the item's
    /// revision, not its version. Reply: [`RekeyOutcome`].
    RekeyVersion(RekeyVersionArgs),
    /// What a public link shows, for the proxy serving `/s/{token}`. Needs no
    /// device token: the link's token is the credential. Reply: [`OpenedLink`].
    OpenLink(OpenLinkArgs),
    /// Administration: deletes a user (see [`DeleteUserArgs`]). Only an
    /// administrator's device, or without a token the services' broker user
    /// (the `nimbus-server user delete` command). Reply: [`DeletedUserReply`].
    AdminDeleteUser(DeleteUserArgs),
    /// Administration: every user with usage. Reply: `Vec<AdminUser>`.
    AdminListUsers,
    /// Administration: adds a user. Reply: [`AdminUser`].
    AdminAddUser(AdminAddUserArgs),
    /// Administration: disables or enables a user, sets the quota, or a new
    /// password (which revokes every device of the user). Reply: `null`.
    AdminUpdateUser(AdminUpdateUserArgs),
    /// Administration: the audit log, newest first. Reply: `Vec<AuditEntry>`.
    AdminAuditLog(AuditQuery),
    /// Administration: every OAuth application and proposal, and one page of
    /// the public links. Reply: [`AdminOverview`].
    AdminOverview(AdminOverviewQuery),
    /// Administration: the metadata servers consuming the request queue and
    /// its depth, as the answering server sees them. Reply: [`ServiceHealth`].
    AdminHealth,
    /// Administration: the workspaces a user owns (with their members and
    /// size) and those they are a member of, what deleting them decides
    /// about. Reply: [`crate::admin::AdminUserWorkspaces`].
    AdminUserWorkspaces { username: String },
    /// Administration: registers an OAuth application with a new key and
    /// secret. Reply: [`crate::admin::NewOAuthApplication`], the only time
    /// the secret is told.
    AdminAddOauthApp(AddOAuthAppArgs),
    /// Administration: removes an OAuth application and ends every token
    /// issued to it. Reply: `null`.
    AdminRemoveOauthApp { consumer_key: String },
    /// Administration: ends any user's public link at once. Reply: [`LinkInfo`].
    AdminRevokeLink { link_id: Uuid },
}

impl Operation {
    /// The operation's wire name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Login(_) => "login",
            Operation::Logout => "logout",
            Operation::ChangePassword(_) => "changePassword",
            Operation::RegisterDevice(_) => "registerDevice",
            Operation::UpdateDevice(_) => "updateDevice",
            Operation::ListDevices => "listDevices",
            Operation::RevokeDevice { .. } => "revokeDevice",
            Operation::GetAccount => "getAccount",
            Operation::GetWorkspaces => "getWorkspaces",
            Operation::CreateWorkspace(_) => "createWorkspace",
            Operation::GetChanges(_) => "getChanges",
            Operation::Commit(_) => "commit",
            Operation::GetItem { .. } => "getItem",
            Operation::ListFolder { .. } => "listFolder",
            Operation::GetVersions { .. } => "getVersions",
            Operation::OauthRequestToken { .. } => "oauthRequestToken",
            Operation::OauthRequestInfo { .. } => "oauthRequestInfo",
            Operation::OauthAuthorize { .. } => "oauthAuthorize",
            Operation::OauthAccessToken { .. } => "oauthAccessToken",
            Operation::OauthAuthenticate { .. } => "oauthAuthenticate",
            Operation::ListOauthTokens => "listOauthTokens",
            Operation::RevokeOauthToken { .. } => "revokeOauthToken",
            Operation::Subscribe { .. } => "subscribe",
            Operation::ProposeShare(_) => "proposeShare",
            Operation::ListProposals => "listProposals",
            Operation::AcceptProposal(_) => "acceptProposal",
            Operation::DeclineProposal { .. } => "declineProposal",
            Operation::CancelProposal { .. } => "cancelProposal",
            Operation::ListMembers { .. } => "listMembers",
            Operation::SetMemberRole { .. } => "setMemberRole",
            Operation::RemoveMember { .. } => "removeMember",
            Operation::LeaveWorkspace { .. } => "leaveWorkspace",
            Operation::TransferOwnership { .. } => "transferOwnership",
            Operation::UnshareWorkspace { .. } => "unshareWorkspace",
            Operation::UpdateMount(_) => "updateMount",
            Operation::ReferencedChunks { .. } => "referencedChunks",
            Operation::UnreferencedChunks { .. } => "unreferencedChunks",
            Operation::CollectChunks { .. } => "collectChunks",
            Operation::ChunksStored { .. } => "chunksStored",
            Operation::PruneChunkClaims { .. } => "pruneChunkClaims",
            Operation::TransferredContainers { .. } => "transferredContainers",
            Operation::ReportMissingContent { .. } => "reportMissingContent",
            Operation::CreateLink(_) => "createLink",
            Operation::ListLinks => "listLinks",
            Operation::RevokeLink { .. } => "revokeLink",
            Operation::PurgeItem { .. } => "purgeItem",
            Operation::ConvertFolder(_) => "convertFolder",
            Operation::ListVersionsToRekey { .. } => "listVersionsToRekey",
            Operation::RekeyVersion(_) => "rekeyVersion",
            Operation::OpenLink(_) => "openLink",
            Operation::AdminDeleteUser(_) => "adminDeleteUser",
            Operation::AdminListUsers => "adminListUsers",
            Operation::AdminAddUser(_) => "adminAddUser",
            Operation::AdminUpdateUser(_) => "adminUpdateUser",
            Operation::AdminAuditLog(_) => "adminAuditLog",
            Operation::AdminOverview(_) => "adminOverview",
            Operation::AdminHealth => "adminHealth",
            Operation::AdminUserWorkspaces { .. } => "adminUserWorkspaces",
            Operation::AdminAddOauthApp(_) => "adminAddOauthApp",
            Operation::AdminRemoveOauthApp { .. } => "adminRemoveOauthApp",
            Operation::AdminRevokeLink { .. } => "adminRevokeLink",
        }
    }
}

/// A request or access token with its secret. Its `Debug` shows neither.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthTokenReply {
    pub token: String,
    pub secret: String,
}

impl fmt::Debug for OAuthTokenReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuthTokenReply(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthRequestInfo {
    pub consumer_name: String,
}

/// Where the authorize page sends the user: `callback` is a URL, or `oob`
/// when the application shows the verifier to the user. Its `Debug` shows
/// only the callback.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthAuthorizeReply {
    pub request_token: String,
    pub verifier: String,
    pub callback: String,
}

impl fmt::Debug for OAuthAuthorizeReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthAuthorizeReply")
            .field("callback", &self.callback)
            .finish_non_exhaustive()
    }
}

/// Who signed a request with an access token, and the token of the device
/// bound to that access token, for the RPC calls made on the user's behalf.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthIdentity {
    pub user_id: Uuid,
    pub consumer_key: String,
    pub device_token: DeviceToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthTokenInfo {
    pub token: String,
    pub consumer_name: String,
    pub device_id: Uuid,
    pub created_at: TimestampMillis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginArgs {
    pub username: String,
    pub password: Password,
    #[serde(flatten)]
    pub device: DeviceArgs,
    /// A token that expires after this many seconds (Swift TempAuth tokens);
    /// `None` for a device token that lives until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceArgs {
    pub device_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginReply {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub token: DeviceToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<TimestampMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    pub name: String,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub created_at: TimestampMillis,
    pub last_seen_at: TimestampMillis,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub device_id: Uuid,
    pub quota_limit: u64,
    pub quota_used: u64,
    /// The Swift account (tenant) that holds the user's containers,
    /// `AUTH_<account name>`.
    pub storage_account: String,
    /// Whether the user administers that account (Swift's `.admin`).
    pub account_admin: bool,
    /// Containers in `storage_account` that hold workspaces whose ownership
    /// was transferred to a user of another account: administering the
    /// account gives no access to them, only membership does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub membership_only_containers: Vec<String>,
    /// Public URL of the object store, e.g. `http://127.0.0.1:8080/v1/AUTH_alice`.
    pub storage_url: String,
    /// When the caller's token expires (`None`: when revoked), so that
    /// whoever caches the answer caches it no longer than that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<TimestampMillis>,
    /// How long the deployment keeps deleted items and old versions.
    #[serde(default)]
    pub retention: RetentionPolicy,
}

/// How long deleted items and old versions are kept before the metadata
/// servers remove them for good. The current version of a live file is
/// never removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Days a deleted item stays in the trash, with its versions.
    pub trash_days: u32,
    /// Days an older version of a live item is kept.
    pub version_days: u32,
    /// Versions of an item kept whatever their age, the current one included.
    pub min_versions: u32,
    /// Versions of an item kept at most, the current one included.
    pub max_versions: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            trash_days: 30,
            version_days: 30,
            min_versions: 3,
            max_versions: 100,
        }
    }
}

/// What `purgeItem` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedItem {
    pub workspace_id: Uuid,
    /// The item and the items below it.
    pub items: u64,
    pub versions: u64,
    /// Bytes no retained version references any more, taken off the quota.
    pub freed_bytes: u64,
    /// The workspace revision the removal was recorded in.
    pub revision: Revision,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncryptionMode {
    /// Plain chunks (still compressed).
    #[default]
    None,
    /// Encrypted at rest with a server key; the web UI can read it.
    Server,
    /// End to end: keys never leave the devices.
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Editor,
    Viewer,
}

impl Role {
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    pub workspace_id: Uuid,
    /// This member's name for the workspace's folder.
    pub name: String,
    pub owner_id: Uuid,
    pub role: Role,
    pub encryption: EncryptionMode,
    pub revision: Revision,
    /// The object-store container holding the workspace's chunks.
    pub container: String,
    /// The Swift account that holds `container`.
    pub storage_account: String,
    /// Where this member mounts the workspace (`None`: the top of the sync folder).
    pub mount_parent: Option<Uuid>,
    pub is_default: bool,
    /// For `client` workspaces: the passphrase check recorded when the
    /// workspace was created (see [`CreateWorkspaceArgs::key_check`]), so a
    /// device can refuse a mistyped passphrase before syncing anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
    /// For a workspace that `convertFolder` made of a folder: where that
    /// folder was. Its owner's devices mount it at `mount_parent` under
    /// `name`, inside the sync folder of `workspace_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<ConvertedFrom>,
}

/// The folder a workspace was made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertedFrom {
    /// The workspace that held the folder (its owner's default one).
    pub workspace_id: Uuid,
    /// The folder's item id, deleted there with `moved_to`.
    pub folder_id: Uuid,
}

/// `convertFolder`: a folder of the caller's default workspace, and the id
/// of the workspace it becomes (chosen by the device, a random UUID, so a
/// re-sent request finds the conversion done).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertFolderArgs {
    pub item_id: Uuid,
    pub workspace_id: Uuid,
}

/// What `convertFolder` made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertedFolder {
    /// The new workspace as its owner sees it (`converted_from` set).
    pub workspace: WorkspaceInfo,
    /// The revision of the source workspace at which the folder was
    /// deleted with `moved_to`.
    pub source_revision: Revision,
}

/// Where a version's chunks are: the workspace whose keys cut, named (and
/// hashed) them, and the container that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlace {
    pub workspace_id: Uuid,
    pub storage_account: String,
    pub container: String,
}

/// Largest page of `listVersionsToRekey`.
pub const MAX_REKEY_PAGE: u32 = 1000;

/// Position in the list of versions to re-key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyCursor {
    pub item_id: Uuid,
    pub version: u64,
}

/// A file version whose chunks are under another workspace's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionToRekey {
    pub item_id: Uuid,
    pub version: u64,
    /// The item's workspace: the keys and container to re-key into.
    pub target: ChunkPlace,
    /// Where the chunks are now.
    pub source: ChunkPlace,
    pub content: Content,
}

/// `rekeyVersion`: the version's content under its own workspace's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyVersionArgs {
    pub item_id: Uuid,
    pub version: u64,
    /// The workspace the version's chunks were read from: the change
    /// applies only if the version still names it.
    pub chunk_workspace: Uuid,
    /// Same size; the new chunk list and content hash.
    pub content: Content,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RekeyOutcome {
    /// Recorded at this revision of the item's workspace.
    Rekeyed { revision: Revision },
    /// The version no longer names that workspace (re-keyed already, or
    /// removed): nothing changed.
    Stale,
}

/// Length of a key check: 16 bytes as lowercase hexadecimal digits.
pub const KEY_CHECK_HEX_LEN: usize = 32;

/// Whether `check` has the form of a key check (32 lowercase hex digits).
pub fn is_valid_key_check(check: &str) -> bool {
    check.len() == KEY_CHECK_HEX_LEN
        && check
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new workspace of the caller's.
///
/// The device chooses the id (a random UUID): the keys of an end-to-end
/// encrypted workspace are salted with it, so the device needs it to compute
/// the key check before the workspace exists. Re-sending the same request
/// (same id, name, mode and check) returns the workspace instead of failing,
/// so a retry after a lost reply is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWorkspaceArgs {
    pub workspace_id: Uuid,
    /// The caller's name for the workspace's folder; the rules of item names
    /// apply, and it must differ from the caller's other workspaces' names.
    pub name: String,
    pub encryption: EncryptionMode,
    /// Required for `client`, refused for the other modes: a value derived
    /// from the passphrase's key (`nimbus_chunks::WorkspaceKeys::key_check`,
    /// [`KEY_CHECK_HEX_LEN`] hex digits). Finding the key or the passphrase
    /// from it costs a full Argon2id run per guess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

/// Most addressees in one `proposeShare`.
pub const MAX_ADDRESSEES: usize = 100;
/// Longest message of a proposal, in characters.
pub const MAX_PROPOSAL_MESSAGE_CHARS: usize = 1000;

/// A share offer: the workspace and the users (user names or e-mail
/// addresses) it is offered to, with the role they would get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposeShareArgs {
    pub workspace_id: Uuid,
    pub addressees: Vec<String>,
    /// `editor` or `viewer`: ownership moves only by `transferOwnership`.
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
    /// Pending past its `expires_at` (30 days by default).
    Expired,
}

/// A share proposal as its proposer and its invitee see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub proposal_id: Uuid,
    pub workspace_id: Uuid,
    /// The owner's name for the workspace, which the invitee mounts it under
    /// unless they choose another.
    pub workspace_name: String,
    pub proposer_id: Uuid,
    pub proposer_name: String,
    pub invitee_id: Uuid,
    pub invitee_name: String,
    /// How the proposer named the invitee: their user name or e-mail address.
    pub addressed_as: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub status: ProposalStatus,
    pub created_at: TimestampMillis,
    pub expires_at: TimestampMillis,
    /// Bytes of the workspace's live files when the proposal was read, so
    /// that the invitee knows what accepting brings to their devices.
    #[serde(default)]
    pub workspace_size: u64,
    /// The workspace's encryption mode (`none` from servers that predate it).
    #[serde(default)]
    pub encryption: EncryptionMode,
    /// For an end-to-end encrypted workspace, in the invitee's own list
    /// (`listProposals`' `incoming`) only: its key check, which the
    /// invitee's device compares with the keys of the passphrase typed
    /// before accepting, and sends back with [`AcceptProposalArgs`]. Members
    /// see it in `getWorkspaces` anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

/// `listProposals`: offers to the caller's user and offers it made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalList {
    pub incoming: Vec<Proposal>,
    pub outgoing: Vec<Proposal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptProposalArgs {
    pub proposal_id: Uuid,
    /// The caller's name for the workspace's folder (default: the owner's
    /// name for it). A name the caller already uses gets ` (2)`, ` (3)`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_name: Option<String>,
    /// A folder of the caller's default workspace to mount it in (default:
    /// the top of the sync folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_parent: Option<Uuid>,
    /// Required for an end-to-end encrypted workspace, and equal to its key
    /// check: the invitee's device proves it derived the workspace's keys
    /// from the right passphrase (the web UI and REST, which must never see
    /// a passphrase, cannot, and are refused). Ignored for other modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

/// A member's own name and place for a workspace's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMountArgs {
    pub workspace_id: Uuid,
    pub mount_name: String,
    /// A folder of the caller's default workspace; `None`: the top.
    #[serde(default)]
    pub mount_parent: Option<Uuid>,
}

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub role: Role,
    pub joined_at: TimestampMillis,
}

/// The secret of a public link, the last part of `/s/{token}`. Its `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkToken(pub String);

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(<redacted>)")
    }
}

/// Shortest password a link accepts, in characters.
pub const MIN_LINK_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLinkArgs {
    pub workspace_id: Uuid,
    /// A live file or folder of the workspace; `None`: its top folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<Uuid>,
    /// When the link stops working; in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<TimestampMillis>,
    /// Asked of every visitor; at least [`MIN_LINK_PASSWORD_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    /// File downloads after which the link stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
}

/// Whether a link still works, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Active,
    Revoked,
    Expired,
    /// Its downloads reached `max_downloads`.
    UsedUp,
    /// Its file or folder was deleted.
    TargetDeleted,
    /// Its creator is no longer a member of the workspace (or is disabled).
    CreatorLostAccess,
}

/// A public link as its creator sees it (never with its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub link_id: Uuid,
    pub workspace_id: Uuid,
    /// `None`: the top of the workspace.
    pub item_id: Option<Uuid>,
    /// The current name of the file or folder (the creator's name for the
    /// workspace, for its top).
    pub name: String,
    pub is_folder: bool,
    pub has_password: bool,
    pub created_at: TimestampMillis,
    pub expires_at: Option<TimestampMillis>,
    pub max_downloads: Option<u64>,
    pub downloads: u64,
    pub status: LinkStatus,
}

/// `createLink`: the link, and its token, which is shown this once only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedLink {
    pub link: LinkInfo,
    pub token: LinkToken,
}

/// A visit of a public link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLinkArgs {
    /// Named apart from the envelope's device `token`, which it sits beside.
    pub link_token: LinkToken,
    /// For a link with a password: the password the visitor typed…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    /// …or the `unlock` an earlier right password earned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock: Option<LinkToken>,
    /// A file or folder inside a folder link; `None`: the link's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<Uuid>,
    /// Counts a download of the file, or of the folder as a zip (refused
    /// when the link is used up).
    #[serde(default)]
    pub count_download: bool,
    /// For a folder: its live items at every depth instead of its children
    /// (each with its parent id, for the paths of a zip), at most this many;
    /// asking one more than the caller's cap tells it the folder is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtree_max: Option<u32>,
}

/// Where a linked workspace keeps its chunks, so that the proxy can stream
/// a file without any object URL leaving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStorage {
    pub workspace_id: Uuid,
    pub storage_account: String,
    pub container: String,
    pub encryption: EncryptionMode,
}

/// What a visitor of a live link sees: a file, or a folder and what is
/// directly in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedLink {
    pub link_id: Uuid,
    /// The name of the link's target.
    pub name: String,
    pub storage: LinkStorage,
    /// The item asked for; `None`: the top of the workspace.
    pub item: Option<ItemState>,
    /// The live items in it, when it is a folder (every one beneath it when
    /// `subtree_max` asked so; none when a download was counted).
    pub children: Vec<ItemState>,
    /// Earned by a right password: passes the password check on the next
    /// visits for an hour. Its `Debug` never prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock: Option<LinkToken>,
}

impl OpenedLink {
    /// Whether the item asked for is a folder (the top of a workspace is one).
    pub fn is_folder(&self) -> bool {
        self.item.as_ref().is_none_or(|item| item.is_folder)
    }
}

/// Page size of `getChanges` when the caller names none, and the largest allowed.
pub const DEFAULT_CHANGES_PAGE: u32 = 1000;
pub const MAX_CHANGES_PAGE: u32 = 5000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetChangesArgs {
    pub workspace_id: Uuid,
    /// Items changed after this revision are returned (0: everything).
    pub since: Revision,
    /// To read the next page of the same delta: the `next_page` of the previous reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Position inside a delta: items are ordered by (revision, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCursor {
    pub revision: Revision,
    pub item_id: Uuid,
}

/// A page of the delta: the latest state of every item changed after `since`.
///
/// Items come in commit order, but an item's parent may come later in the
/// delta than the item (when the parent changed again since): apply a whole
/// delta before acting on it. When `next_page` is `None` the delta is complete
/// and `revision` is the cursor for the next call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Changes {
    pub items: Vec<ItemState>,
    pub revision: Revision,
    pub next_page: Option<PageCursor>,
    /// The revision at which items were last removed for good (trash
    /// expiry, delete forever), which no delta can show: a copy of the tree
    /// older than that reads it again from revision 0 to drop them.
    #[serde(default)]
    pub purged_revision: Revision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionStatus {
    New,
    Changed,
    Renamed,
    Moved,
    Deleted,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::New => "NEW",
            VersionStatus::Changed => "CHANGED",
            VersionStatus::Renamed => "RENAMED",
            VersionStatus::Moved => "MOVED",
            VersionStatus::Deleted => "DELETED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NEW" => VersionStatus::New,
            "CHANGED" => VersionStatus::Changed,
            "RENAMED" => VersionStatus::Renamed,
            "MOVED" => VersionStatus::Moved,
            "DELETED" => VersionStatus::Deleted,
            _ => return None,
        })
    }
}

/// One chunk of a file version, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Keyed BLAKE3 of the plaintext, 64 hex digits; also the object name.
    pub id: String,
    /// Plaintext length in bytes.
    pub size: u32,
}

/// The content of a file version: what a device needs to rebuild its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub size: u64,
    /// `algorithm:hex` of the whole plaintext, e.g. `blake3:…`.
    pub content_hash: Option<String>,
    pub chunks: Vec<ChunkRef>,
    /// How the chunks were cut (algorithm, version, sizes), recorded with each
    /// version so that a later chunker change cannot misread old versions.
    pub chunker: Option<String>,
}

/// The latest state of an item, as `getChanges` and conflicts report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub is_folder: bool,
    pub deleted: bool,
    pub version: u64,
    pub status: VersionStatus,
    pub revision: Revision,
    pub device_id: Uuid,
    pub modified_at: TimestampMillis,
    pub committed_at: TimestampMillis,
    #[serde(flatten)]
    pub content: Content,
    /// On a folder deleted by `convertFolder`: the workspace it became. Its
    /// items live on there with the same ids, versions and hashes; a device
    /// hands its copy to that workspace's mount instead of deleting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<Uuid>,
    /// Set while this version's chunks are still cut, named and hashed
    /// under another workspace's keys and stored in its container (a
    /// converted folder's versions until the re-keying job has run);
    /// `None`: the item's own workspace. Read them from there with that
    /// workspace's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_workspace: Option<ChunkPlace>,
}

/// An item and the workspace it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocatedItem {
    pub workspace_id: Uuid,
    pub item: ItemState,
}

/// The versions of an item, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemHistory {
    pub workspace_id: Uuid,
    pub versions: Vec<ItemState>,
}

/// Largest number of chunk ids one `referencedChunks` asks about: as many
/// as one Swift bulk delete may name.
pub const MAX_REFERENCED_CHUNKS_QUERY: usize = 10_000;

/// Largest number of items in one commit.
pub const MAX_COMMIT_ITEMS: usize = 10_000;
/// Largest number of chunks in one file version (16 TiB at 4 MiB average).
pub const MAX_CHUNKS_PER_VERSION: usize = 4_194_304;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitArgs {
    pub workspace_id: Uuid,
    pub items: Vec<CommitItem>,
}

/// The new state of one item, based on the version the device last saw.
///
/// New items get a random id chosen by the device (UUID v4 or v7) and
/// `base_version` 0; a child may name a folder created earlier in the same
/// batch as its parent. The server derives the version status (new, changed,
/// renamed, moved, deleted) by comparing with the current version.
///
/// A folder is deleted only together with, or after, everything in it: a
/// device that did not see an item cannot delete it by deleting its folder.
/// Folder deletions in a batch are applied after its other items, the last
/// listed first, so a batch may list a tree parents-first throughout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitItem {
    pub id: Uuid,
    pub base_version: u64,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub is_folder: bool,
    #[serde(default)]
    pub deleted: bool,
    pub modified_at: TimestampMillis,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitReply {
    /// The workspace revision after this commit (unchanged if nothing was committed).
    pub revision: Revision,
    /// One result per item, in the order of the request.
    pub results: Vec<ItemResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub id: Uuid,
    #[serde(flatten)]
    pub outcome: ItemOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Stored as `version`.
    Committed { version: u64, status: VersionStatus },
    /// Identical to the current version: nothing to store.
    Unchanged { version: u64 },
    /// Another device committed first: `current` is the server's version
    /// (`None` if the id is unknown although `base_version` named one).
    Conflict { current: Option<Box<ItemState>> },
    /// Not valid in this workspace; nothing stored for this item.
    Refused { code: RefusalCode, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    InvalidItem,
    NameTaken,
    ParentMissing,
    ParentNotFolder,
    ParentRefused,
    MoveIntoItself,
    /// A folder is deleted only after (or with) every live item in it.
    FolderNotEmpty,
    KindChange,
    IdInUse,
}

/// What the request queue carries back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(serde_json::Value),
    Error(RpcError),
}

/// An error a caller can act on: `code` is stable, `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code:?})")]
pub struct RpcError {
    pub code: ErrorCode,
    pub message: String,
    /// For `too_many_attempts` and `unavailable`: when trying again makes sense.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or its arguments are invalid.
    BadRequest,
    /// No token, or a token that is unknown, revoked or expired.
    Unauthenticated,
    /// Wrong user name or password.
    InvalidCredentials,
    /// Too many failed logins; wait `retry_after_secs`.
    TooManyAttempts,
    /// The device sent more requests than its rate allows; wait
    /// `retry_after_secs`. Nothing was done.
    TooManyRequests,
    /// The account is disabled by an administrator.
    AccountDisabled,
    /// Authenticated, but the workspace, item or device is not the caller's
    /// (also used when it does not exist, so existence does not leak).
    Forbidden,
    /// The commit would exceed the caller's own quota; nothing was written.
    QuotaExceeded,
    /// The commit, to a workspace shared with the caller, would exceed the
    /// quota of the workspace's owner, who is charged for it; nothing was
    /// written.
    OwnerQuotaExceeded,
    /// The request id was already used for a different request.
    RequestIdReused,
    /// The commit lists chunks that the object store's collection removed
    /// (no version referenced them for a while); nothing was written. Upload
    /// them again (`PUT`, without trusting what was known to be stored),
    /// then re-send the commit.
    ContentMissing,
    /// A dependency (the database) is down; retry later.
    Unavailable,
    /// A bug on the server; the message says where to look.
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let shown = format!(
            "{:?} {:?} {:?} {:?}",
            DeviceToken("nmb_device".into()),
            Password("hunter22".into()),
            OAuthTokenReply {
                token: "the-token".into(),
                secret: "the-secret".into(),
            },
            OAuthAuthorizeReply {
                request_token: "the-request-token".into(),
                verifier: "the-verifier".into(),
                callback: "oob".into(),
            },
        );
        for secret in [
            "nmb_device",
            "hunter22",
            "the-token",
            "the-secret",
            "the-verifier",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("oob"), "{shown}");
    }

    #[test]
    fn requests_round_trip_in_the_documented_shape() {
        let request = Request {
            request_id: Uuid::nil(),
            token: Some(DeviceToken("secret".into())),
            trace_id: None,
            operation: Operation::GetChanges(GetChangesArgs {
                workspace_id: Uuid::nil(),
                since: 41,
                page: None,
                limit: None,
            }),
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["op"], "getChanges");
        assert_eq!(json["since"], 41);
        assert_eq!(json["token"], "secret");
        let back: Request = serde_json::from_value(json).unwrap();
        assert!(matches!(back.operation, Operation::GetChanges(a) if a.since == 41));

        let logout: Request = serde_json::from_str(
            r#"{"request_id":"00000000-0000-0000-0000-000000000000","op":"logout"}"#,
        )
        .unwrap();
        assert!(matches!(logout.operation, Operation::Logout));
    }

    #[test]
    fn trace_ids_travel_when_set_and_bad_ones_read_as_none() {
        let request = Request {
            request_id: Uuid::nil(),
            token: None,
            trace_id: TraceId::parse("tx-1"),
            operation: Operation::Logout,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["trace_id"], "tx-1");
        let back: Request = serde_json::from_value(json).unwrap();
        assert_eq!(back.trace_id, TraceId::parse("tx-1"));
        for trace_id in [r#""has space""#, "42", "null", r#"{"a":1}"#] {
            let request: Request = serde_json::from_str(&format!(
                r#"{{"request_id":"00000000-0000-0000-0000-000000000000","trace_id":{trace_id},"op":"logout"}}"#
            ))
            .unwrap();
            assert_eq!(request.trace_id, None, "{trace_id}");
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let args = LoginArgs {
            username: "alice".into(),
            password: Password("hunter2".into()),
            device: DeviceArgs::default(),
            token_ttl_secs: None,
        };
        let token = DeviceToken("tok-secret".into());
        let shown = format!("{args:?} {token:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-secret"),
            "{shown}"
        );
    }

    #[test]
    fn create_workspace_is_tagged_and_key_checks_are_hex() {
        let request = Request {
            request_id: Uuid::nil(),
            token: Some(DeviceToken("secret".into())),
            trace_id: None,
            operation: Operation::CreateWorkspace(CreateWorkspaceArgs {
                workspace_id: Uuid::nil(),
                name: "Secrets".into(),
                encryption: EncryptionMode::Client,
                key_check: Some("0f".repeat(16)),
            }),
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["op"], "createWorkspace");
        assert_eq!(json["encryption"], "client");
        assert_eq!(json["key_check"], "0f".repeat(16));
        assert!(is_valid_key_check(&"0f".repeat(16)));
        assert!(!is_valid_key_check(&"0F".repeat(16)));
        assert!(!is_valid_key_check(&"0f".repeat(15)));
        assert!(!is_valid_key_check(&"zz".repeat(16)));
    }

    #[test]
    fn sharing_operations_are_tagged_in_camel_case() {
        let request = Request {
            request_id: Uuid::nil(),
            token: Some(DeviceToken("secret".into())),
            trace_id: None,
            operation: Operation::ProposeShare(ProposeShareArgs {
                workspace_id: Uuid::nil(),
                addressees: vec!["bob".into(), "carol@example.org".into()],
                role: Role::Viewer,
                message: None,
            }),
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["op"], "proposeShare");
        assert_eq!(json["role"], "viewer");
        assert!(json.get("message").is_none());
        let accept: Request = serde_json::from_str(
            r#"{"request_id":"00000000-0000-0000-0000-000000000000","token":"t",
                "op":"acceptProposal","proposal_id":"00000000-0000-0000-0000-000000000001"}"#,
        )
        .unwrap();
        assert!(matches!(
            accept.operation,
            Operation::AcceptProposal(AcceptProposalArgs {
                mount_name: None,
                key_check: None,
                ..
            })
        ));
        assert_eq!(
            serde_json::to_value(ErrorCode::OwnerQuotaExceeded).unwrap(),
            "owner_quota_exceeded"
        );
    }

    #[test]
    fn a_proposal_from_an_older_server_reads_as_plain_and_key_checks_are_optional() {
        let json = serde_json::json!({
            "proposal_id": Uuid::nil(), "workspace_id": Uuid::nil(), "workspace_name": "Photos",
            "proposer_id": Uuid::nil(), "proposer_name": "alice", "invitee_id": Uuid::nil(),
            "invitee_name": "bob", "addressed_as": "bob", "role": "editor",
            "status": "pending", "created_at": 0, "expires_at": 0,
        });
        let old: Proposal = serde_json::from_value(json).unwrap();
        assert_eq!(
            (old.encryption, old.key_check.clone()),
            (EncryptionMode::None, None)
        );
        let encoded = serde_json::to_value(&old).unwrap();
        assert_eq!(encoded["encryption"], "none");
        assert!(encoded.get("key_check").is_none());
        let encrypted = Proposal {
            encryption: EncryptionMode::Client,
            key_check: Some("0f".repeat(16)),
            ..old
        };
        let encoded = serde_json::to_value(&encrypted).unwrap();
        assert_eq!(
            (&encoded["encryption"], &encoded["key_check"]),
            (
                &serde_json::json!("client"),
                &serde_json::json!("0f".repeat(16))
            )
        );
        let accept = serde_json::to_value(AcceptProposalArgs {
            proposal_id: Uuid::nil(),
            mount_name: None,
            mount_parent: None,
            key_check: Some("0f".repeat(16)),
        })
        .unwrap();
        assert_eq!(accept["key_check"], "0f".repeat(16));
    }

    #[test]
    fn conversion_fields_are_optional_on_the_wire() {
        let json = serde_json::json!({
            "id": Uuid::nil(), "parent_id": null, "name": "Photos", "is_folder": true,
            "deleted": true, "version": 2, "status": "DELETED", "revision": 7,
            "device_id": Uuid::nil(), "modified_at": 0, "committed_at": 0,
            "size": 0, "content_hash": null, "chunks": [], "chunker": null,
        });
        let old: ItemState = serde_json::from_value(json).unwrap();
        assert_eq!((old.moved_to, old.chunk_workspace.clone()), (None, None));
        let encoded = serde_json::to_value(&old).unwrap();
        assert!(encoded.get("moved_to").is_none() && encoded.get("chunk_workspace").is_none());
        let moved = ItemState {
            moved_to: Some(Uuid::from_u128(9)),
            ..old
        };
        let encoded = serde_json::to_value(&moved).unwrap();
        assert_eq!(encoded["moved_to"], Uuid::from_u128(9).to_string());
        let request: Request = serde_json::from_str(
            r#"{"request_id":"00000000-0000-0000-0000-000000000000","token":"t",
                "op":"convertFolder","item_id":"00000000-0000-0000-0000-000000000001",
                "workspace_id":"00000000-0000-0000-0000-000000000002"}"#,
        )
        .unwrap();
        assert_eq!(request.operation.name(), "convertFolder");
    }

    #[test]
    fn outcomes_are_tagged() {
        let result = ItemResult {
            id: Uuid::nil(),
            outcome: ItemOutcome::Committed {
                version: 2,
                status: VersionStatus::Renamed,
            },
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["outcome"], "committed");
        assert_eq!(json["status"], "RENAMED");
    }
}
