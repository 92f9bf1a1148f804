//! The metadata store: every piece of state the metadata servers keep.
//!
//! Operations (`crate::rpc`) talk to a [`MetadataStore`], never to SQL, so that
//! the embedded SQLite store can sit beside [`postgres::PgStore`] without
//! touching them. The rules of a commit live in [`crate::commit_plan`], a pure
//! function; a store only loads the snapshot the planner needs, runs it inside
//! one transaction and writes the plan.

pub mod postgres;

use async_trait::async_trait;
use nimbus_protocol::rpc::{
    Changes, CommitArgs, CommitReply, ConvertedFolder, CreateWorkspaceArgs, DeviceArgs, DeviceInfo,
    EncryptionMode, ItemState, LinkInfo, Member, OAuthTokenInfo, PageCursor, Proposal,
    ProposalList, ProposalStatus, RekeyCursor, RekeyOutcome, RekeyVersionArgs, RetentionPolicy,
    Revision, Role, TimestampMillis, VersionToRekey, WorkspaceInfo,
};
use thiserror::Error;
use uuid::Uuid;

/// Why the store could not do what was asked.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached; the request should be retried later.
    #[error("the metadata database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A uniqueness rule was violated (e.g. a user name that exists).
    #[error("{0}")]
    AlreadyExists(String),
    /// The commit would exceed the quota of the workspace's owner, `owner_id`.
    #[error(
        "the commit needs {needed} more bytes but only {available} are left in the quota; \
         deleted files and older versions count until they are removed: delete forever what \
         you do not need from the trash"
    )]
    QuotaExceeded {
        needed: u64,
        available: u64,
        owner_id: Uuid,
    },
    /// The change does not fit the current state (a proposal that is no
    /// longer pending, a name in use); the text says why.
    #[error("{0}")]
    Refused(String),
    /// The commit lists chunks that the object store's collection claimed
    /// (`collectChunks`) and that were not reported stored again since.
    #[error(
        "{} chunk(s) this commit lists were removed from the object store because no version \
         referenced them (the first: {}); nothing was written. Upload them again, then commit \
         again",
        .0.len(),
        .0.first().map_or("", String::as_str)
    )]
    ContentMissing(Vec<String>),
    /// The request id was already used with different arguments.
    #[error("request id {0} was already used for a different request")]
    RequestIdReused(Uuid),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => StoreError::Unavailable(error),
            sqlx::Error::Database(db)
                // admin_shutdown, crash_shutdown, cannot_connect_now
                if matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03")) =>
            {
                StoreError::Unavailable(error)
            }
            _ => StoreError::Database(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A user as the administration and login see it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub account: String,
    pub account_admin: bool,
    pub email: Option<String>,
    pub password_hash: String,
    pub quota_limit: u64,
    pub quota_used: u64,
    pub is_admin: bool,
    pub disabled: bool,
    pub failed_logins: u32,
    pub last_failed_login_at: Option<TimestampMillis>,
    pub created_at: TimestampMillis,
}

/// What the administrator gives when adding a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// Defaults to the user name: every user has an account of their own.
    pub account: Option<String>,
    pub account_admin: bool,
    pub email: Option<String>,
    pub password_hash: String,
    pub quota_limit: u64,
    pub is_admin: bool,
}

/// Who did something the audit log records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `None`: the command line, or a sign-in under an unknown name.
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

impl Actor {
    /// The administrator at the `nimbus-server` command line.
    pub fn command_line() -> Self {
        Actor {
            id: None,
            name: Some("administrator".to_owned()),
        }
    }

    pub fn user(id: Uuid, name: &str) -> Self {
        Actor {
            id: Some(id),
            name: Some(name.to_owned()),
        }
    }
}

/// What an audit record says was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SharePropose,
    ShareAccept,
    ShareDecline,
    ShareCancel,
    MemberRemove,
    ShareLeave,
    MemberRole,
    OwnershipTransfer,
    Unshare,
    LinkCreate,
    LinkRevoke,
    UserAdd,
    UserDisable,
    UserEnable,
    PasswordReset,
    PasswordChange,
    UserQuota,
    UserDelete,
    WorkspaceDelete,
    OAuthAppAdd,
    OAuthAppRemove,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign-in",
            AuditAction::SignInFailed => "sign-in-failed",
            AuditAction::SharePropose => "share-propose",
            AuditAction::ShareAccept => "share-accept",
            AuditAction::ShareDecline => "share-decline",
            AuditAction::ShareCancel => "share-cancel",
            AuditAction::MemberRemove => "member-remove",
            AuditAction::ShareLeave => "share-leave",
            AuditAction::MemberRole => "member-role",
            AuditAction::OwnershipTransfer => "ownership-transfer",
            AuditAction::Unshare => "unshare",
            AuditAction::LinkCreate => "link-create",
            AuditAction::LinkRevoke => "link-revoke",
            AuditAction::UserAdd => "user-add",
            AuditAction::UserDisable => "user-disable",
            AuditAction::UserEnable => "user-enable",
            AuditAction::PasswordReset => "password-reset",
            AuditAction::PasswordChange => "password-change",
            AuditAction::UserQuota => "user-quota",
            AuditAction::UserDelete => "user-delete",
            AuditAction::WorkspaceDelete => "workspace-delete",
            AuditAction::OAuthAppAdd => "oauth-app-add",
            AuditAction::OAuthAppRemove => "oauth-app-remove",
        }
    }
}

/// One record for the append-only audit log; never a password or a token.
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: Actor,
    pub action: AuditAction,
    /// The user acted upon, if any.
    pub target: Option<String>,
    pub workspace_id: Option<Uuid>,
    /// The rest, for people: the device, the role, the link, ...
    pub detail: String,
}

impl Audit {
    pub fn new(actor: Actor, action: AuditAction) -> Self {
        Audit {
            actor,
            action,
            target: None,
            workspace_id: None,
            detail: String::new(),
        }
    }

    pub fn by(caller: &Caller, action: AuditAction) -> Self {
        Audit::new(Actor::user(caller.user_id, &caller.username), action)
    }

    pub fn target(mut self, name: &str) -> Self {
        self.target = Some(name.to_owned());
        self
    }

    pub fn workspace(mut self, workspace_id: Uuid) -> Self {
        self.workspace_id = Some(workspace_id);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// Which audit records to read: newest first, at most `limit`.
#[derive(Debug, Clone)]
pub struct AuditFilter {
    /// Records this user did or was the target of.
    pub user: Option<String>,
    pub since: Option<TimestampMillis>,
    pub limit: u32,
}

/// A record read back from the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: TimestampMillis,
    pub actor: Actor,
    pub action: String,
    pub target: Option<String>,
    pub workspace_id: Option<Uuid>,
    pub detail: String,
}

/// A user with what they store, for the administrator.
#[derive(Debug, Clone)]
pub struct UserUsage {
    pub user: User,
    /// Bytes of the live (not deleted) files of the workspaces they own,
    /// counting each file's current version.
    pub logical_bytes: u64,
    /// Bytes of the chunks retained versions reference: what quota counts.
    pub stored_bytes: u64,
}

/// What the administrator decided for the workspaces of a user to delete
/// that others are members of; every other workspace of theirs is deleted.
#[derive(Debug, Clone)]
pub struct UserDeletion<'a> {
    pub user_id: Uuid,
    /// Shared workspaces handed to a member: (workspace, new owner).
    pub transfers: &'a [(Uuid, Uuid)],
    /// Shared workspaces deleted with everything in them.
    pub delete_shared: &'a [Uuid],
}

/// What deleting a user ended, for the broker and the notifications.
#[derive(Debug, Clone, Default)]
pub struct DeletedUser {
    pub revoked_devices: Vec<Uuid>,
    /// Workspaces deleted, each with the other users who were members.
    pub deleted_workspaces: Vec<(Uuid, Vec<Uuid>)>,
    /// Workspaces of others the user was a member of.
    pub left_workspaces: Vec<Uuid>,
    /// (workspace, new owner).
    pub transferred: Vec<(Uuid, Uuid)>,
    /// Pending proposals to, from, or of the user's workspaces, cancelled.
    pub cancelled: Vec<Proposal>,
}

/// The authenticated caller of a request, derived from its token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub username: String,
    pub account: String,
    pub account_admin: bool,
    pub email: Option<String>,
    pub is_admin: bool,
    pub quota_limit: u64,
    pub quota_used: u64,
    /// When the token expires, in milliseconds since the epoch (`None`: when revoked).
    pub token_expires_at: Option<i64>,
}

/// A user found by name or e-mail, as a share addressee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub id: Uuid,
    pub username: String,
}

/// What sharing needs to know of a workspace, whoever asks.
#[derive(Debug, Clone)]
pub struct WorkspaceRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub is_default: bool,
    pub encryption: EncryptionMode,
    /// Bytes charged to the owner for it: the chunks its retained versions reference.
    pub usage: u64,
}

/// Proposals of one workspace, by one proposer, to several users.
#[derive(Debug, Clone)]
pub struct NewProposals<'a> {
    pub workspace_id: Uuid,
    pub proposer_id: Uuid,
    /// Each invitee, with the user name or e-mail address the proposer used.
    pub invitees: &'a [(Uuid, String)],
    pub role: Role,
    pub message: Option<&'a str>,
}

/// What ending memberships did, for the notifications and the broker.
#[derive(Debug, Clone, Default)]
pub struct Removal {
    /// The users whose membership ended.
    pub removed: Vec<Uuid>,
    /// The pending proposals that ended with them.
    pub cancelled: Vec<Proposal>,
}

/// A mount of a workspace: the member's own name and place for it.
#[derive(Debug, Clone)]
pub struct Mount<'a> {
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    /// A live folder of the user's default workspace; `None`: the top.
    pub parent: Option<Uuid>,
}

/// A folder of the owner's default workspace to turn into workspace
/// `workspace_id` (`convertFolder`); the deletion of the folder is
/// recorded as made by `device_id`.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub owner_id: Uuid,
    pub device_id: Uuid,
    pub folder_id: Uuid,
    pub workspace_id: Uuid,
}

/// A new public link; the token itself is never stored.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub id: Uuid,
    pub token_hash: [u8; 32],
    pub creator_id: Uuid,
    pub workspace_id: Uuid,
    /// `None`: the top of the workspace.
    pub item_id: Option<Uuid>,
    pub password_hash: Option<&'a str>,
    pub expires_at: Option<TimestampMillis>,
    pub max_downloads: Option<u64>,
}

/// A public link with what opening it checks.
#[derive(Debug, Clone)]
pub struct LinkRecord {
    pub info: LinkInfo,
    pub creator_id: Uuid,
    pub creator_name: String,
    /// Argon2id; never leaves the server.
    pub password_hash: Option<String>,
    /// Wrong passwords in a row, and when the last one came.
    pub failed_attempts: u32,
    pub last_failed_at: Option<TimestampMillis>,
}

/// The device row created by a login or registration.
#[derive(Debug, Clone)]
pub struct NewDevice<'a> {
    /// Chosen by the store when `None`.
    pub device_id: Option<Uuid>,
    pub user_id: Uuid,
    pub device: &'a DeviceArgs,
    pub token_hash: [u8; 32],
    pub expires_at: Option<TimestampMillis>,
}

/// A registered OAuth application.
#[derive(Debug, Clone)]
pub struct OAuthConsumer {
    pub key: String,
    pub secret: String,
    pub name: String,
    pub callback_url: Option<String>,
}

/// An OAuth request token, before and after the user allowed access.
#[derive(Debug, Clone)]
pub struct RequestToken {
    pub token: String,
    pub secret: String,
    pub consumer_key: String,
    pub callback: String,
    pub verifier: Option<String>,
    pub user_id: Option<Uuid>,
}

/// An OAuth access token and the device it is bound to.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub secret: String,
    pub consumer_key: String,
    pub user_id: Uuid,
    pub device_id: Uuid,
}

/// Who commits, under which request id, and a fingerprint of the arguments
/// for the idempotency check.
#[derive(Debug, Clone)]
pub struct CommitContext {
    pub request_id: Uuid,
    pub device_id: Uuid,
    pub fingerprint: [u8; 32],
}

/// The result of a commit: the reply, and whether it is a replay of an
/// earlier answer to the same request id.
#[derive(Debug, Clone)]
pub struct CommitOutcome {
    pub reply: CommitReply,
    /// The revision written by this request, if it wrote anything.
    pub written_revision: Option<Revision>,
    pub replayed: bool,
}

/// What a removal for good (retention, delete forever) took away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub items: u64,
    pub versions: u64,
    /// Bytes no retained version references any more, off the owner's quota.
    pub freed_bytes: u64,
    /// The workspace revision that records removed items, if any were.
    pub revision: Option<Revision>,
}

#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Applies pending schema migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Whether the database answers a query now (`/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a user with a default workspace and its membership, atomically.
    async fn create_user(&self, new_user: NewUser, audit: &Audit) -> StoreResult<User>;
    /// The user of this name unless deleted. A deleted user's row stays (see
    /// [`MetadataStore::delete_user`]), but to sign-ins, sharing and
    /// administration they are nobody.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// Every user not deleted, by name, with their usage.
    async fn list_users(&self) -> StoreResult<Vec<UserUsage>>;
    /// Deletes a user: hands or deletes the shared workspaces they own as
    /// `deletion` says (refused, naming them, when one has no decision),
    /// deletes their other workspaces (recording their containers, see
    /// [`MetadataStore::is_deleted_container`]), ends their memberships, pending proposals,
    /// links, devices and OAuth tokens, all in one transaction. The row stays,
    /// disabled and marked deleted.
    async fn delete_user(
        &self,
        deletion: UserDeletion<'_>,
        audit: &Audit,
    ) -> StoreResult<DeletedUser>;
    /// Whether the container held a workspace that was deleted (with its
    /// user): no version can reference its chunks any more.
    async fn is_deleted_container(
        &self,
        storage_account: &str,
        container: &str,
    ) -> StoreResult<bool>;
    /// Returns false when there is no such user.
    async fn set_user_quota(
        &self,
        username: &str,
        quota_bytes: u64,
        audit: &Audit,
    ) -> StoreResult<bool>;
    /// Appends a record of an action that has no transaction of its own
    /// (a sign-in).
    async fn record_audit(&self, audit: &Audit) -> StoreResult<()>;
    /// Audit records, newest first.
    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Returns false when there is no such user.
    async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        audit: &Audit,
    ) -> StoreResult<bool>;
    /// Also revokes every device of the user; returns them, or `None` when
    /// there is no such user.
    async fn set_password_hash(
        &self,
        username: &str,
        password_hash: &str,
        audit: &Audit,
    ) -> StoreResult<Option<Vec<Uuid>>>;
    /// Sets the password of `user_id` and revokes every device of the user
    /// but `keep_device`; returns the revoked devices.
    async fn change_password_hash(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep_device: Uuid,
        audit: &Audit,
    ) -> StoreResult<Vec<Uuid>>;
    async fn record_login_failure(&self, user_id: Uuid) -> StoreResult<()>;
    async fn clear_login_failures(&self, user_id: Uuid) -> StoreResult<()>;

    async fn create_device(&self, device: NewDevice<'_>) -> StoreResult<Uuid>;
    /// The caller a live (unrevoked, unexpired) token belongs to, if its user is enabled.
    async fn authenticate(&self, token_hash: &[u8; 32]) -> StoreResult<Option<Caller>>;
    async fn update_device(&self, device_id: Uuid, device: &DeviceArgs) -> StoreResult<DeviceInfo>;
    /// The user's devices, revoked ones included; expired sessions are not devices.
    async fn list_devices(&self, user_id: Uuid) -> StoreResult<Vec<DeviceInfo>>;
    /// Returns false when the device is not the user's.
    async fn revoke_device(&self, user_id: Uuid, device_id: Uuid) -> StoreResult<bool>;

    async fn workspaces_of(&self, user_id: Uuid) -> StoreResult<Vec<WorkspaceInfo>>;
    /// Creates a workspace owned by `owner_id` and the owner's membership
    /// under `args.name`, atomically. The same arguments again return the
    /// workspace (a re-sent request); a name the owner already uses, or an id
    /// taken otherwise, is [`StoreError::AlreadyExists`].
    async fn create_workspace(
        &self,
        owner_id: Uuid,
        args: &CreateWorkspaceArgs,
    ) -> StoreResult<WorkspaceInfo>;
    /// The user's role in the workspace, `None` when not a member.
    async fn role_in(&self, workspace_id: Uuid, user_id: Uuid) -> StoreResult<Option<Role>>;
    /// One page of the items changed after `since`.
    async fn changes(
        &self,
        workspace_id: Uuid,
        since: Revision,
        page: Option<PageCursor>,
        limit: u32,
    ) -> StoreResult<Changes>;
    async fn add_oauth_consumer(&self, consumer: &OAuthConsumer, audit: &Audit) -> StoreResult<()>;
    async fn list_oauth_consumers(&self) -> StoreResult<Vec<OAuthConsumer>>;
    /// Also ends every token issued to it. Returns false when there is no such consumer.
    async fn remove_oauth_consumer(&self, key: &str, audit: &Audit) -> StoreResult<bool>;
    async fn oauth_consumer(&self, key: &str) -> StoreResult<Option<OAuthConsumer>>;
    /// Records a nonce; false when (consumer, token, nonce) was seen before.
    async fn remember_nonce(
        &self,
        consumer_key: &str,
        token: &str,
        nonce: &str,
    ) -> StoreResult<bool>;
    async fn purge_nonces(&self, max_age_secs: u64) -> StoreResult<u64>;
    async fn create_request_token(&self, token: &RequestToken, ttl_secs: u64) -> StoreResult<()>;
    /// An unexpired request token.
    async fn request_token(&self, token: &str) -> StoreResult<Option<RequestToken>>;
    /// Marks an unexpired, not yet authorized request token as allowed by the user.
    async fn authorize_request_token(
        &self,
        token: &str,
        user_id: Uuid,
        verifier: &str,
    ) -> StoreResult<bool>;
    /// Consumes the request token and creates the device and the access token,
    /// atomically. False when the request token was already used.
    async fn exchange_request_token(
        &self,
        request_token: &str,
        access: &AccessToken,
        device: NewDevice<'_>,
    ) -> StoreResult<bool>;
    /// A live access token (its device not revoked, its user enabled).
    async fn access_token(&self, token: &str) -> StoreResult<Option<AccessToken>>;
    async fn list_access_tokens(&self, user_id: Uuid) -> StoreResult<Vec<OAuthTokenInfo>>;
    /// Deletes the access token and revokes its device. False when not the user's.
    async fn revoke_access_token(&self, user_id: Uuid, token: &str) -> StoreResult<bool>;

    /// Forgets the answers of commits older than `max_age_secs`; a device
    /// re-sends a commit within minutes, never days.
    async fn purge_processed_requests(&self, max_age_secs: u64) -> StoreResult<u64>;
    /// Deletes the devices whose token expired more than `max_age_secs` ago
    /// (TempAuth sessions), unless a file version names them; their commit
    /// answers and OAuth grants go with them.
    async fn purge_expired_devices(&self, max_age_secs: u64) -> StoreResult<u64>;
    /// The latest state of an item (chunks included) and its workspace.
    async fn item(&self, item_id: Uuid) -> StoreResult<Option<(Uuid, ItemState)>>;
    /// The live items directly in a folder (`None`: the workspace's top).
    async fn children(
        &self,
        workspace_id: Uuid,
        folder_id: Option<Uuid>,
    ) -> StoreResult<Vec<ItemState>>;
    /// The live items beneath a folder (`None`: the whole workspace) at
    /// every depth, through live folders only, at most `max`.
    async fn descendants(
        &self,
        workspace_id: Uuid,
        folder_id: Option<Uuid>,
        max: u32,
    ) -> StoreResult<Vec<ItemState>>;
    /// Every version of an item, newest first, and its workspace.
    async fn versions(&self, item_id: Uuid) -> StoreResult<Option<(Uuid, Vec<ItemState>)>>;
    /// The workspace whose chunks are `container` of the Swift account
    /// `storage_account` (`AUTH_<account>`), if any.
    async fn workspace_of_container(
        &self,
        storage_account: &str,
        container: &str,
    ) -> StoreResult<Option<Uuid>>;
    /// Which of `chunk_ids` a version of an item of the workspace references.
    async fn referenced_chunks(
        &self,
        workspace_id: Uuid,
        chunk_ids: &[String],
    ) -> StoreResult<Vec<String>>;
    /// Deletes forever the trashed item `item_id` of `workspace_id` and
    /// everything below it, with their versions. [`StoreError::Refused`]
    /// when it is not in the trash (or something below it is live).
    async fn purge_item(&self, workspace_id: Uuid, item_id: Uuid) -> StoreResult<Removed>;
    /// Every workspace, for the retention job.
    async fn workspace_ids(&self) -> StoreResult<Vec<Uuid>>;
    /// Removes up to `batch` trashed items and `batch` old versions of one
    /// workspace that `policy` no longer keeps, in one transaction; `None`
    /// when another server is doing it now.
    async fn apply_retention(
        &self,
        workspace_id: Uuid,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> StoreResult<Option<Removed>>;
    /// Records as claimed for collection under `claim`, and returns, those
    /// of `chunk_ids` that no version of the workspace references, in one
    /// transaction under the workspace's lock (the one
    /// [`MetadataStore::commit`] takes first). A chunk held under a later
    /// claim, or whose claims were lifted up to `claim` or beyond, is left
    /// as it is and not returned; nothing is claimed under a `claim` below
    /// the floor ([`MetadataStore::prune_chunk_claims`]).
    async fn collect_unreferenced_chunks(
        &self,
        workspace_id: Uuid,
        claim: i64,
        chunk_ids: &[String],
    ) -> StoreResult<Vec<String>>;
    /// Lifts every claim up to `up_to` on `chunk_ids`: they are stored
    /// again. A later claim stays, and no claim up to `up_to` can be made
    /// on them any more.
    async fn chunks_stored(
        &self,
        workspace_id: Uuid,
        up_to: i64,
        chunk_ids: &[String],
    ) -> StoreResult<()>;
    /// Raises the floor of collection claims to `floor` (claims below it
    /// are refused from then on: [`MetadataStore::collect_unreferenced_chunks`]
    /// claims nothing under them) and removes the records of chunks whose
    /// claims were lifted up to a number below the floor, which no answer
    /// depends on any more; returns how many.
    async fn prune_chunk_claims(&self, floor: i64) -> StoreResult<u64>;
    /// Plans and applies a commit in one transaction (see [`crate::commit_plan`]).
    async fn commit(
        &self,
        context: &CommitContext,
        args: &CommitArgs,
    ) -> StoreResult<CommitOutcome>;

    // Sharing.

    /// The enabled user whose name, or e-mail address (any case), is `addressee`.
    async fn find_user(&self, addressee: &str) -> StoreResult<Option<UserRef>>;
    async fn workspace_record(&self, workspace_id: Uuid) -> StoreResult<Option<WorkspaceRecord>>;
    /// One of the user's workspaces as that member sees it.
    async fn member_workspace(
        &self,
        user_id: Uuid,
        workspace_id: Uuid,
    ) -> StoreResult<Option<WorkspaceInfo>>;
    /// Creates the proposals atomically, all or none, and returns them in the
    /// order of the invitees. Refused when an invitee is already a member or
    /// has a pending proposal of the workspace. `audit` is recorded once
    /// per proposal.
    async fn create_proposals(
        &self,
        new: NewProposals<'_>,
        audit: &Audit,
    ) -> StoreResult<Vec<Proposal>>;
    /// Proposals to and from the user, newest first.
    async fn proposals_of(&self, user_id: Uuid) -> StoreResult<ProposalList>;
    /// A pending proposal past its expiry reads as expired.
    async fn proposal(&self, proposal_id: Uuid) -> StoreResult<Option<Proposal>>;
    /// Makes the invitee of a pending, unexpired proposal a member with the
    /// proposed role, mounted under `mount_name` (default: the owner's name
    /// for the workspace), with ` (2)`, ` (3)`, … when the invitee already
    /// uses that name. An end-to-end encrypted workspace is refused unless
    /// `key_check` is its key check.
    async fn accept_proposal(
        &self,
        proposal_id: Uuid,
        mount_name: Option<&str>,
        mount_parent: Option<Uuid>,
        key_check: Option<&str>,
        audit: &Audit,
    ) -> StoreResult<(Proposal, WorkspaceInfo)>;
    /// Ends a pending, unexpired proposal as `Declined` or `Cancelled`.
    async fn close_proposal(
        &self,
        proposal_id: Uuid,
        status: ProposalStatus,
        audit: &Audit,
    ) -> StoreResult<Proposal>;
    /// Marks pending proposals past their expiry as expired; returns how many.
    async fn expire_proposals(&self) -> StoreResult<u64>;
    /// Every proposal (the pending ones only, if asked), newest first.
    async fn all_proposals(&self, pending_only: bool) -> StoreResult<Vec<Proposal>>;
    /// The owner first, then by user name.
    async fn members(&self, workspace_id: Uuid) -> StoreResult<Vec<Member>>;
    /// Changes a member's role, never the owner's; `None` when `user_id` is
    /// not a member other than the owner.
    async fn set_member_role(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: Role,
        audit: &Audit,
    ) -> StoreResult<Option<Member>>;
    /// Ends the membership of `user_id` (every member but the owner when
    /// `None`), the pending proposals to and from them and their public
    /// links of the workspace, in one transaction.
    async fn remove_members(
        &self,
        workspace_id: Uuid,
        user_id: Option<Uuid>,
        audit: &Audit,
    ) -> StoreResult<Removal>;
    /// Makes member `to` the owner and `from` an editor, and moves the
    /// workspace's usage between their quotas; refused when it does not fit
    /// `to`'s quota. The pending proposals `from` made are cancelled.
    async fn transfer_ownership(
        &self,
        workspace_id: Uuid,
        from: Uuid,
        to: Uuid,
        audit: &Audit,
    ) -> StoreResult<Vec<Proposal>>;
    /// Renames or moves one member's mount; refused when the name is taken.
    async fn update_mount(&self, mount: Mount<'_>) -> StoreResult<WorkspaceInfo>;
    /// The containers stored in `account` whose workspaces are now owned by
    /// users of other accounts (ownership was transferred).
    async fn transferred_containers(&self, account: &str) -> StoreResult<Vec<String>>;
    /// Turns a folder into a workspace, in one transaction under the source
    /// workspace's lock; answers an earlier conversion by the same request
    /// again (docs/sharing.md). Every rule the caller could break is a
    /// [`StoreError::Refused`].
    async fn convert_folder(&self, conversion: &Conversion) -> StoreResult<ConvertedFolder>;
    /// File versions of plain workspaces whose chunks are under another
    /// workspace's keys, after `after`, at most `limit`.
    async fn versions_to_rekey(
        &self,
        after: Option<RekeyCursor>,
        limit: u32,
    ) -> StoreResult<Vec<VersionToRekey>>;
    /// Records a version's re-keyed content if it still names
    /// `args.chunk_workspace`.
    async fn rekey_version(&self, args: &RekeyVersionArgs) -> StoreResult<RekeyOutcome>;
    /// Remembers a queue `subscribe` bound for the device.
    async fn record_device_queue(&self, device_id: Uuid, queue: &str) -> StoreResult<()>;
    /// The queues recorded for the user's devices.
    async fn device_queues_of(&self, user_id: Uuid) -> StoreResult<Vec<String>>;
    /// The queues recorded for one device.
    async fn queues_of_device(&self, device_id: Uuid) -> StoreResult<Vec<String>>;
    /// Forgets queues the broker no longer has.
    async fn forget_device_queues(&self, queues: &[String]) -> StoreResult<()>;

    // Public links.

    /// Creates the link; refused when its item is not a live item of the workspace.
    async fn create_link(&self, link: NewLink<'_>, audit: &Audit) -> StoreResult<LinkInfo>;
    /// The links `creator_id` made, newest first.
    async fn links_of(&self, creator_id: Uuid) -> StoreResult<Vec<LinkInfo>>;
    /// Every link, newest first (administration).
    async fn all_links(&self) -> StoreResult<Vec<LinkRecord>>;
    /// How many links `creator` (a user name; `None`: anybody) made.
    async fn count_links(&self, creator: Option<&str>) -> StoreResult<u64>;
    /// At most `limit` of the links `creator` made (`None`: anybody's),
    /// newest first, after skipping `offset` of them (administration).
    async fn links_page(
        &self,
        creator: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<LinkRecord>>;
    /// Revokes a link (only one of `creator_id`'s, when given); `None` when
    /// there is no such link.
    async fn revoke_link(
        &self,
        link_id: Uuid,
        creator_id: Option<Uuid>,
        audit: &Audit,
    ) -> StoreResult<Option<LinkInfo>>;
    async fn link_by_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>>;
    async fn record_link_failure(&self, link_id: Uuid) -> StoreResult<()>;
    async fn clear_link_failures(&self, link_id: Uuid) -> StoreResult<()>;
    /// Counts a download unless the link is revoked or used up; false then.
    async fn count_link_download(&self, link_id: Uuid) -> StoreResult<bool>;
    /// Whether `item_id` is a live item of the workspace inside the live
    /// folder `root` (`None`: anywhere in the workspace), or `root` itself.
    async fn is_within(
        &self,
        workspace_id: Uuid,
        root: Option<Uuid>,
        item_id: Uuid,
    ) -> StoreResult<bool>;
}
