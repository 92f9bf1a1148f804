//! [`MetadataStore`] on PostgreSQL.
//!
//! A commit runs in one transaction that first locks its workspace row: commits
//! to one workspace are serialised (which makes the revision counter and the
//! name checks exact), commits to different workspaces run in parallel. The
//! work per commit is a fixed number of statements whatever the batch size:
//! the snapshot is loaded with set-based queries and the plan is written with
//! `UNNEST` arrays.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use nimbus_protocol::rpc::{
    Changes, ChunkPlace, ChunkRef, CommitArgs, Content, ConvertedFolder, ConvertedFrom,
    CreateWorkspaceArgs, DeviceArgs, DeviceInfo, EncryptionMode, ItemState, LinkInfo, Member,
    OAuthTokenInfo, PageCursor, Proposal, ProposalList, ProposalStatus, RekeyCursor, RekeyOutcome,
    RekeyVersionArgs, RetentionPolicy, Revision, Role, VersionStatus, VersionToRekey,
    WorkspaceInfo,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{
    AccessToken, Audit, AuditFilter, AuditRecord, Caller, CommitContext, CommitOutcome, Conversion,
    DeletedUser, LinkRecord, MetadataStore, Mount, NewDevice, NewLink, NewProposals, NewUser,
    OAuthConsumer, Removal, Removed, RequestToken, StoreError, StoreResult, User, UserDeletion,
    UserRef, UserUsage, WorkspaceRecord,
};
use crate::commit_plan::SnapshotItem;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Name of the default workspace a new user gets.
const DEFAULT_WORKSPACE_NAME: &str = "Nimbus";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Opens a pool. Connections are made on demand, so a database that is
    /// down at start or restarts later is picked up again without a restart.
    pub fn connect_lazy(database_url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(database_url)
            .map_err(StoreError::Database)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// `result`, with a violated unique key reported as `refusal()`, which says
/// what the clash means to the caller, instead of as a database error.
fn refuse_duplicate<T>(
    result: Result<T, sqlx::Error>,
    refusal: impl FnOnce() -> StoreError,
) -> StoreResult<T> {
    result.map_err(|e| {
        if unique_violation(&e) {
            refusal()
        } else {
            e.into()
        }
    })
}

/// The refusal of a mount name the user already has for another workspace.
fn mount_name_taken(name: &str) -> String {
    format!("you already have a workspace named {name:?}; choose another name")
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// `timestamptz` as milliseconds since the epoch, in SQL.
macro_rules! millis {
    ($column:literal) => {
        concat!("(extract(epoch from ", $column, ") * 1000)::bigint")
    };
}

macro_rules! user_columns {
    () => {
        concat!(
            "id, username, account, account_admin, email, password_hash, quota_limit, quota_used, \
             is_admin, disabled, failed_logins, ",
            millis!("last_failed_login_at"),
            " AS last_failed_login_at, ",
            millis!("created_at"),
            " AS created_at"
        )
    };
}

/// The latest state of an item with its workspace, from `items i` joined to
/// `item_versions v` at the latest version.
macro_rules! item_columns {
    () => {
        concat!(
            "i.id, i.workspace_id, i.parent_id, i.name, i.is_folder, i.deleted, \
             i.latest_version, v.status, i.revision, v.device_id, v.modified_at, ",
            millis!("v.committed_at"),
            " AS committed_at, v.size, v.content_hash, v.chunker, ",
            version_place_columns!()
        )
    };
}

/// Of `item_versions v`: the workspace a converted folder became, and where
/// the version's chunks are when another workspace's keys made them
/// ([`ItemRow::chunk_workspace`]).
macro_rules! version_place_columns {
    () => {
        "v.moved_to, v.chunk_workspace, \
         (SELECT cw.container FROM workspaces cw WHERE cw.id = v.chunk_workspace) \
             AS chunk_container, \
         (SELECT coalesce(cw.container_account, co.account) FROM workspaces cw \
             JOIN users co ON co.id = cw.owner_id WHERE cw.id = v.chunk_workspace) \
             AS chunk_account"
    };
}

/// The bytes charged for workspace `w`: every chunk a retained version
/// references, once ([`retention`]).
macro_rules! retained_bytes {
    () => {
        "(SELECT coalesce(sum(kept.size), 0)::bigint \
          FROM (SELECT DISTINCT c.chunk_id, c.size FROM version_chunks c \
                JOIN items i ON i.id = c.item_id WHERE i.workspace_id = w.id) AS kept)"
    };
}

macro_rules! latest_version_join {
    () => {
        " JOIN item_versions v ON v.item_id = i.id AND v.version = i.latest_version "
    };
}

#[derive(FromRow)]
struct UserRow {
    id: Uuid,
    username: String,
    account: String,
    account_admin: bool,
    email: Option<String>,
    password_hash: String,
    quota_limit: i64,
    quota_used: i64,
    is_admin: bool,
    disabled: bool,
    failed_logins: i32,
    last_failed_login_at: Option<i64>,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            username: row.username,
            account: row.account,
            account_admin: row.account_admin,
            email: row.email,
            password_hash: row.password_hash,
            quota_limit: to_u64(row.quota_limit),
            quota_used: to_u64(row.quota_used),
            is_admin: row.is_admin,
            disabled: row.disabled,
            failed_logins: u32::try_from(row.failed_logins).unwrap_or(0),
            last_failed_login_at: row.last_failed_login_at,
            created_at: row.created_at,
        }
    }
}

#[derive(FromRow)]
struct DeviceRow {
    id: Uuid,
    name: String,
    os: Option<String>,
    app_version: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    revoked: bool,
}

impl From<DeviceRow> for DeviceInfo {
    fn from(row: DeviceRow) -> Self {
        DeviceInfo {
            device_id: row.id,
            name: row.name,
            os: row.os,
            app_version: row.app_version,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            revoked: row.revoked,
        }
    }
}

const DEVICE_COLUMNS: &str = concat!(
    "id, name, os, app_version, ",
    millis!("created_at"),
    " AS created_at, ",
    millis!("last_seen_at"),
    " AS last_seen_at, revoked_at IS NOT NULL AS revoked"
);

#[derive(FromRow)]
struct ItemRow {
    id: Uuid,
    workspace_id: Uuid,
    parent_id: Option<Uuid>,
    name: String,
    is_folder: bool,
    deleted: bool,
    latest_version: i64,
    status: String,
    revision: i64,
    device_id: Uuid,
    modified_at: i64,
    committed_at: i64,
    size: i64,
    content_hash: Option<String>,
    chunker: Option<String>,
    moved_to: Option<Uuid>,
    chunk_workspace: Option<Uuid>,
    chunk_container: Option<String>,
    chunk_account: Option<String>,
}

impl ItemRow {
    /// `None` also when the workspace named is gone (its user deleted):
    /// the chunks went with its container.
    fn chunk_workspace(&self) -> Option<ChunkPlace> {
        Some(ChunkPlace {
            workspace_id: self.chunk_workspace?,
            storage_account: storage_account(self.chunk_account.as_deref()?),
            container: self.chunk_container.clone()?,
        })
    }

    fn into_snapshot_item(self) -> StoreResult<SnapshotItem> {
        let status = VersionStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Corrupt(format!("unknown version status {}", self.status))
        })?;
        let chunk_workspace = self.chunk_workspace();
        Ok(SnapshotItem {
            workspace_id: self.workspace_id,
            state: ItemState {
                id: self.id,
                parent_id: self.parent_id,
                name: self.name,
                is_folder: self.is_folder,
                deleted: self.deleted,
                version: to_u64(self.latest_version),
                status,
                revision: to_u64(self.revision),
                device_id: self.device_id,
                modified_at: self.modified_at,
                committed_at: self.committed_at,
                moved_to: self.moved_to,
                chunk_workspace,
                content: Content {
                    size: to_u64(self.size),
                    content_hash: self.content_hash,
                    chunks: Vec::new(),
                    chunker: self.chunker,
                },
            },
        })
    }
}

#[derive(FromRow)]
struct WorkspaceRow {
    id: Uuid,
    mount_name: String,
    owner_id: Uuid,
    role: String,
    encryption: String,
    revision: i64,
    container: String,
    owner_account: String,
    mount_parent: Option<Uuid>,
    is_default: bool,
    key_check: Option<String>,
    converted_from_workspace: Option<Uuid>,
    converted_from_folder: Option<Uuid>,
}

impl WorkspaceRow {
    fn converted_from(&self) -> Option<ConvertedFrom> {
        Some(ConvertedFrom {
            workspace_id: self.converted_from_workspace?,
            folder_id: self.converted_from_folder?,
        })
    }

    fn into_info(self) -> StoreResult<WorkspaceInfo> {
        let converted_from = self.converted_from();
        Ok(WorkspaceInfo {
            workspace_id: self.id,
            name: self.mount_name,
            owner_id: self.owner_id,
            role: parse_role(&self.role)?,
            encryption: parse_encryption(&self.encryption)?,
            revision: to_u64(self.revision),
            container: self.container,
            storage_account: storage_account(&self.owner_account),
            mount_parent: self.mount_parent,
            is_default: self.is_default,
            key_check: self.key_check,
            converted_from,
        })
    }
}

/// The workspaces user `$1` is a member of, as [`WorkspaceRow`]s; callers
/// append further conditions or the order.
macro_rules! member_workspaces {
    () => {
        "SELECT w.id, m.mount_name, w.owner_id, m.role, w.encryption, w.revision, w.container, \
                coalesce(w.container_account, o.account) AS owner_account, m.mount_parent, \
                (w.is_default AND w.owner_id = m.user_id) AS is_default, w.key_check, \
                w.converted_from_workspace, w.converted_from_folder \
         FROM workspace_members m \
         JOIN workspaces w ON w.id = m.workspace_id \
         JOIN users o ON o.id = w.owner_id \
         WHERE m.user_id = $1"
    };
}

/// One of the user's workspaces, `None` when the user is not a member.
async fn member_workspace(
    connection: &mut PgConnection,
    user_id: Uuid,
    workspace_id: Uuid,
) -> StoreResult<Option<WorkspaceInfo>> {
    let row: Option<WorkspaceRow> = sqlx::query_as(concat!(member_workspaces!(), " AND w.id = $2"))
        .bind(user_id)
        .bind(workspace_id)
        .fetch_optional(connection)
        .await?;
    row.map(WorkspaceRow::into_info).transpose()
}

fn parse_role(role: &str) -> StoreResult<Role> {
    match role {
        "owner" => Ok(Role::Owner),
        "editor" => Ok(Role::Editor),
        "viewer" => Ok(Role::Viewer),
        other => Err(StoreError::Corrupt(format!("unknown role {other}"))),
    }
}

fn encryption_name(mode: EncryptionMode) -> &'static str {
    match mode {
        EncryptionMode::None => "none",
        EncryptionMode::Server => "server",
        EncryptionMode::Client => "client",
    }
}

fn parse_encryption(mode: &str) -> StoreResult<EncryptionMode> {
    match mode {
        "none" => Ok(EncryptionMode::None),
        "server" => Ok(EncryptionMode::Server),
        "client" => Ok(EncryptionMode::Client),
        other => Err(StoreError::Corrupt(format!(
            "unknown encryption mode {other}"
        ))),
    }
}

pub(crate) const STORAGE_ACCOUNT_PREFIX: &str = "AUTH_";

/// The Swift account name of a tenant.
pub fn storage_account(account: &str) -> String {
    format!("{STORAGE_ACCOUNT_PREFIX}{account}")
}

async fn insert_device<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    device: NewDevice<'_>,
) -> StoreResult<Uuid> {
    let device_id = device.device_id.unwrap_or_else(Uuid::new_v4);
    sqlx::query(
        "INSERT INTO devices (id, user_id, name, os, app_version, token_hash, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::float8 / 1000))",
    )
    .bind(device_id)
    .bind(device.user_id)
    .bind(&device.device.device_name)
    .bind(&device.device.os)
    .bind(&device.device.app_version)
    .bind(&device.token_hash[..])
    .bind(device.expires_at.map(|ms| ms as f64))
    .execute(executor)
    .await?;
    Ok(device_id)
}

/// Fills in the ordered chunk lists of the live file states among `states`
/// (each of its own version), in one query.
async fn fill_chunks(
    connection: &mut PgConnection,
    states: Vec<&mut ItemState>,
) -> StoreResult<()> {
    let files: HashMap<(Uuid, u64), &mut Content> = states
        .into_iter()
        .filter(|s| !s.is_folder && !s.deleted)
        .map(|s| ((s.id, s.version), &mut s.content))
        .collect();
    fill_contents(connection, files).await
}

/// Fills in the ordered chunk lists of the versions (item id, version)
/// of `contents`, in one query.
async fn fill_contents(
    connection: &mut PgConnection,
    mut contents: HashMap<(Uuid, u64), &mut Content>,
) -> StoreResult<()> {
    if contents.is_empty() {
        return Ok(());
    }
    let (ids, numbers): (Vec<Uuid>, Vec<i64>) = contents
        .keys()
        .map(|(id, version)| (*id, to_i64(*version)))
        .unzip();
    let rows: Vec<(Uuid, i64, String, i32)> = sqlx::query_as(
        "SELECT c.item_id, c.version, c.chunk_id, c.size FROM version_chunks c \
         JOIN UNNEST($1::uuid[], $2::bigint[]) AS wanted(item_id, version) \
           ON c.item_id = wanted.item_id AND c.version = wanted.version \
         ORDER BY c.item_id, c.version, c.position",
    )
    .bind(&ids)
    .bind(&numbers)
    .fetch_all(&mut *connection)
    .await?;
    for (item_id, version, id, size) in rows {
        if let Some(content) = contents.get_mut(&(item_id, to_u64(version))) {
            content.chunks.push(ChunkRef {
                id,
                size: u32::try_from(size).unwrap_or(0),
            });
        }
    }
    Ok(())
}

#[async_trait]
impl MetadataStore for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => StoreError::from(inner),
            other => StoreError::Corrupt(format!("migrations: {other}")),
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, new_user: NewUser, audit: &Audit) -> StoreResult<User> {
        let mut tx = self.pool.begin().await?;
        let user_id = Uuid::new_v4();
        let account = new_user
            .account
            .unwrap_or_else(|| new_user.username.clone());
        let inserted = sqlx::query_as::<_, UserRow>(concat!(
            "INSERT INTO users (id, username, account, account_admin, email, password_hash, quota_limit, is_admin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ",
            user_columns!()
        ))
        .bind(user_id)
        .bind(&new_user.username)
        .bind(&account)
        .bind(new_user.account_admin)
        .bind(&new_user.email)
        .bind(&new_user.password_hash)
        .bind(to_i64(new_user.quota_limit))
        .bind(new_user.is_admin)
        .fetch_one(&mut *tx)
        .await;
        let user = match inserted {
            Ok(row) => User::from(row),
            Err(e) if unique_violation(&e) => {
                drop(tx);
                // The row of a deleted user stays and keeps its name, which is
                // not given out again (the audit log's names stay unambiguous).
                let deleted: bool = sqlx::query_scalar(
                    "SELECT deleted_at IS NOT NULL FROM users WHERE username = $1",
                )
                .bind(&new_user.username)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(false);
                return Err(StoreError::AlreadyExists(if deleted {
                    format!(
                        "the name {:?} belonged to a deleted user and is not given out again",
                        new_user.username
                    )
                } else {
                    format!("a user named {:?} already exists", new_user.username)
                }));
            }
            Err(e) => return Err(e.into()),
        };
        let workspace_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO workspaces (id, owner_id, name, encryption, container, is_default) \
             VALUES ($1, $2, $3, 'none', $4, true)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(DEFAULT_WORKSPACE_NAME)
        .bind(workspace_id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, mount_name) \
             VALUES ($1, $2, 'owner', $3)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(DEFAULT_WORKSPACE_NAME)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1 AND deleted_at IS NULL"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from))
    }

    async fn list_users(&self) -> StoreResult<Vec<UserUsage>> {
        self.users_with_usage_impl().await
    }

    async fn set_user_quota(
        &self,
        username: &str,
        quota_bytes: u64,
        audit: &Audit,
    ) -> StoreResult<bool> {
        self.set_user_quota_impl(username, quota_bytes, audit).await
    }

    async fn delete_user(
        &self,
        deletion: UserDeletion<'_>,
        audit: &Audit,
    ) -> StoreResult<DeletedUser> {
        self.delete_user_impl(deletion, audit).await
    }

    async fn is_deleted_container(
        &self,
        storage_account: &str,
        container: &str,
    ) -> StoreResult<bool> {
        self.is_deleted_container_impl(storage_account, container)
            .await
    }

    async fn record_audit(&self, audit: &Audit) -> StoreResult<()> {
        self.record_audit_impl(audit).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.audit_log_impl(filter).await
    }

    async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        audit: &Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE users SET disabled = $2 WHERE username = $1 AND deleted_at IS NULL",
        )
        .bind(username)
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_password_hash(
        &self,
        username: &str,
        password_hash: &str,
        audit: &Audit,
    ) -> StoreResult<Option<Vec<Uuid>>> {
        let mut tx = self.pool.begin().await?;
        let user_id: Option<Uuid> = sqlx::query_scalar(
            "UPDATE users SET password_hash = $2, failed_logins = 0, last_failed_login_at = NULL \
             WHERE username = $1 AND deleted_at IS NULL RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        let revoked: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE devices SET revoked_at = now() \
             WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(revoked))
    }

    async fn change_password_hash(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep_device: Uuid,
        audit: &Audit,
    ) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE users SET password_hash = $2, failed_logins = 0, last_failed_login_at = NULL \
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?;
        let revoked: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE devices SET revoked_at = now() \
             WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id",
        )
        .bind(user_id)
        .bind(keep_device)
        .fetch_all(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn record_login_failure(&self, user_id: Uuid) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1, last_failed_login_at = now() \
             WHERE id = $1",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_login_failures(&self, user_id: Uuid) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, last_failed_login_at = NULL \
             WHERE id = $1 AND failed_logins > 0",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_device(&self, device: NewDevice<'_>) -> StoreResult<Uuid> {
        insert_device(&self.pool, device).await
    }

    async fn add_oauth_consumer(&self, consumer: &OAuthConsumer, audit: &Audit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO oauth_consumers (consumer_key, consumer_secret, name, callback_url) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&consumer.key)
        .bind(&consumer.secret)
        .bind(&consumer.name)
        .bind(&consumer.callback_url)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_oauth_consumers(&self) -> StoreResult<Vec<OAuthConsumer>> {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT consumer_key, consumer_secret, name, callback_url FROM oauth_consumers \
             ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, secret, name, callback_url)| OAuthConsumer {
                key,
                secret,
                name,
                callback_url,
            })
            .collect())
    }

    async fn remove_oauth_consumer(&self, key: &str, audit: &Audit) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, now()) \
             WHERE id IN (SELECT device_id FROM oauth_access_tokens WHERE consumer_key = $1)",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let removed = sqlx::query("DELETE FROM oauth_consumers WHERE consumer_key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn oauth_consumer(&self, key: &str) -> StoreResult<Option<OAuthConsumer>> {
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT consumer_secret, name, callback_url FROM oauth_consumers WHERE consumer_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(secret, name, callback_url)| OAuthConsumer {
            key: key.to_owned(),
            secret,
            name,
            callback_url,
        }))
    }

    async fn remember_nonce(
        &self,
        consumer_key: &str,
        token: &str,
        nonce: &str,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO oauth_nonces (consumer_key, token, nonce) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(consumer_key)
        .bind(token)
        .bind(nonce)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn purge_expired_devices(&self, max_age_secs: u64) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM devices d \
             WHERE d.expires_at < now() - make_interval(secs => $1) \
               AND NOT EXISTS (SELECT 1 FROM item_versions v WHERE v.device_id = d.id)",
        )
        .bind(max_age_secs as f64)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn purge_nonces(&self, max_age_secs: u64) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM oauth_nonces WHERE seen_at < now() - make_interval(secs => $1)",
        )
        .bind(max_age_secs as f64)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn create_request_token(&self, token: &RequestToken, ttl_secs: u64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_request_tokens (token, secret, consumer_key, callback, expires_at) \
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        )
        .bind(&token.token)
        .bind(&token.secret)
        .bind(&token.consumer_key)
        .bind(&token.callback)
        .bind(ttl_secs as f64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn request_token(&self, token: &str) -> StoreResult<Option<RequestToken>> {
        type Row = (String, String, String, Option<String>, Option<Uuid>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT secret, consumer_key, callback, verifier, user_id FROM oauth_request_tokens \
             WHERE token = $1 AND expires_at > now()",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(secret, consumer_key, callback, verifier, user_id)| RequestToken {
                token: token.to_owned(),
                secret,
                consumer_key,
                callback,
                verifier,
                user_id,
            },
        ))
    }

    async fn authorize_request_token(
        &self,
        token: &str,
        user_id: Uuid,
        verifier: &str,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE oauth_request_tokens SET user_id = $2, verifier = $3 \
             WHERE token = $1 AND user_id IS NULL AND expires_at > now()",
        )
        .bind(token)
        .bind(user_id)
        .bind(verifier)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn exchange_request_token(
        &self,
        request_token: &str,
        access: &AccessToken,
        device: NewDevice<'_>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let consumed = sqlx::query("DELETE FROM oauth_request_tokens WHERE token = $1")
            .bind(request_token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if consumed != 1 {
            return Ok(false);
        }
        let device_id = insert_device(&mut *tx, device).await?;
        sqlx::query(
            "INSERT INTO oauth_access_tokens (token, secret, consumer_key, user_id, device_id) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&access.token)
        .bind(&access.secret)
        .bind(&access.consumer_key)
        .bind(access.user_id)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn access_token(&self, token: &str) -> StoreResult<Option<AccessToken>> {
        let row: Option<(String, String, Uuid, Uuid)> = sqlx::query_as(
            "SELECT t.secret, t.consumer_key, t.user_id, t.device_id \
             FROM oauth_access_tokens t \
             JOIN devices d ON d.id = t.device_id JOIN users u ON u.id = t.user_id \
             WHERE t.token = $1 AND d.revoked_at IS NULL AND NOT u.disabled",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(secret, consumer_key, user_id, device_id)| AccessToken {
                token: token.to_owned(),
                secret,
                consumer_key,
                user_id,
                device_id,
            }),
        )
    }

    async fn list_access_tokens(&self, user_id: Uuid) -> StoreResult<Vec<OAuthTokenInfo>> {
        let rows: Vec<(String, String, Uuid, i64)> = sqlx::query_as(concat!(
            "SELECT t.token, c.name, t.device_id, ",
            millis!("t.created_at"),
            " FROM oauth_access_tokens t \
              JOIN oauth_consumers c ON c.consumer_key = t.consumer_key \
              JOIN devices d ON d.id = t.device_id \
              WHERE t.user_id = $1 AND d.revoked_at IS NULL ORDER BY t.created_at"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(token, consumer_name, device_id, created_at)| OAuthTokenInfo {
                    token,
                    consumer_name,
                    device_id,
                    created_at,
                },
            )
            .collect())
    }

    async fn revoke_access_token(&self, user_id: Uuid, token: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let device_id: Option<Uuid> = sqlx::query_scalar(
            "DELETE FROM oauth_access_tokens WHERE token = $1 AND user_id = $2 RETURNING device_id",
        )
        .bind(token)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(device_id) = device_id else {
            return Ok(false);
        };
        sqlx::query("UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn authenticate(&self, token_hash: &[u8; 32]) -> StoreResult<Option<Caller>> {
        type Row = (
            Uuid,
            Uuid,
            String,
            String,
            bool,
            Option<String>,
            bool,
            i64,
            i64,
            bool,
            Option<i64>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT d.id, d.user_id, u.username, u.account, u.account_admin, u.email, u.is_admin, \
                    u.quota_limit, u.quota_used, d.last_seen_at < now() - interval '1 minute', \
                    (extract(epoch FROM d.expires_at) * 1000)::bigint \
             FROM devices d JOIN users u ON u.id = d.user_id \
             WHERE d.token_hash = $1 AND d.revoked_at IS NULL \
               AND (d.expires_at IS NULL OR d.expires_at > now()) AND NOT u.disabled",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await?;
        let Some((
            device_id,
            user_id,
            username,
            account,
            account_admin,
            email,
            is_admin,
            limit,
            used,
            stale,
            token_expires_at,
        )) = row
        else {
            return Ok(None);
        };
        if stale {
            // Recorded at most once a minute, so that reads stay reads.
            sqlx::query("UPDATE devices SET last_seen_at = now() WHERE id = $1")
                .bind(device_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(Caller {
            user_id,
            device_id,
            username,
            account,
            account_admin,
            email,
            is_admin,
            quota_limit: to_u64(limit),
            quota_used: to_u64(used),
            token_expires_at,
        }))
    }

    async fn update_device(&self, device_id: Uuid, device: &DeviceArgs) -> StoreResult<DeviceInfo> {
        let row: DeviceRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE devices SET name = $2, os = $3, app_version = $4, last_seen_at = now() \
             WHERE id = $1 RETURNING {DEVICE_COLUMNS}"
        )))
        .bind(device_id)
        .bind(&device.device_name)
        .bind(&device.os)
        .bind(&device.app_version)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    async fn list_devices(&self, user_id: Uuid) -> StoreResult<Vec<DeviceInfo>> {
        let rows: Vec<DeviceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DEVICE_COLUMNS} FROM devices \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > now()) \
             ORDER BY created_at"
        )))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(DeviceInfo::from).collect())
    }

    async fn revoke_device(&self, user_id: Uuid, device_id: Uuid) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, now()) \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(device_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn workspaces_of(&self, user_id: Uuid) -> StoreResult<Vec<WorkspaceInfo>> {
        let rows: Vec<WorkspaceRow> = sqlx::query_as(concat!(
            member_workspaces!(),
            " ORDER BY is_default DESC, w.created_at, w.id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(WorkspaceRow::into_info).collect()
    }

    async fn create_workspace(
        &self,
        owner_id: Uuid,
        args: &CreateWorkspaceArgs,
    ) -> StoreResult<WorkspaceInfo> {
        let mut tx = self.pool.begin().await?;
        // The container is named by the workspace id, as for default workspaces.
        let inserted = sqlx::query(
            "INSERT INTO workspaces (id, owner_id, name, encryption, container, key_check) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(args.workspace_id)
        .bind(owner_id)
        .bind(&args.name)
        .bind(encryption_name(args.encryption))
        .bind(args.workspace_id.to_string())
        .bind(&args.key_check)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // A re-sent request finds the workspace it created; any other
            // request with this id is refused.
            return match member_workspace(&mut tx, owner_id, args.workspace_id).await? {
                Some(existing)
                    if existing.owner_id == owner_id
                        && existing.name == args.name
                        && existing.encryption == args.encryption
                        && existing.key_check == args.key_check =>
                {
                    Ok(existing)
                }
                _ => Err(StoreError::AlreadyExists(format!(
                    "the workspace id {} is already in use; retry with a new random id",
                    args.workspace_id
                ))),
            };
        }
        let membership = sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, mount_name) \
             VALUES ($1, $2, 'owner', $3)",
        )
        .bind(args.workspace_id)
        .bind(owner_id)
        .bind(&args.name)
        .execute(&mut *tx)
        .await;
        refuse_duplicate(membership, || {
            StoreError::AlreadyExists(mount_name_taken(&args.name))
        })?;
        let created = member_workspace(&mut tx, owner_id, args.workspace_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a workspace vanished while created".into()))?;
        tx.commit().await?;
        Ok(created)
    }

    async fn role_in(&self, workspace_id: Uuid, user_id: Uuid) -> StoreResult<Option<Role>> {
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        role.as_deref().map(parse_role).transpose()
    }

    async fn changes(
        &self,
        workspace_id: Uuid,
        since: Revision,
        page: Option<PageCursor>,
        limit: u32,
    ) -> StoreResult<Changes> {
        // One snapshot for the items and the revision they add up to.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let (revision, purged_revision): (i64, i64) =
            sqlx::query_as("SELECT revision, purged_revision FROM workspaces WHERE id = $1")
                .bind(workspace_id)
                .fetch_one(&mut *tx)
                .await?;
        let after = page.unwrap_or(PageCursor {
            revision: since,
            item_id: Uuid::nil(),
        });
        let mut rows: Vec<ItemRow> = sqlx::query_as(concat!(
            "SELECT ",
            item_columns!(),
            " FROM items i",
            latest_version_join!(),
            "WHERE i.workspace_id = $1 AND i.revision > $2 AND (i.revision, i.id) > ($3, $4) \
             ORDER BY i.revision, i.id LIMIT $5"
        ))
        .bind(workspace_id)
        .bind(to_i64(since))
        .bind(to_i64(after.revision))
        .bind(after.item_id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let mut items = rows
            .into_iter()
            .map(|row| row.into_snapshot_item().map(|item| item.state))
            .collect::<StoreResult<Vec<ItemState>>>()?;
        fill_chunks(&mut tx, items.iter_mut().collect()).await?;
        tx.commit().await?;
        let next_page = if more {
            items.last().map(|last| PageCursor {
                revision: last.revision,
                item_id: last.id,
            })
        } else {
            None
        };
        Ok(Changes {
            items,
            revision: to_u64(revision),
            next_page,
            purged_revision: to_u64(purged_revision),
        })
    }

    async fn item(&self, item_id: Uuid) -> StoreResult<Option<(Uuid, ItemState)>> {
        let mut connection = self.pool.acquire().await?;
        let row: Option<ItemRow> = sqlx::query_as(concat!(
            "SELECT ",
            item_columns!(),
            " FROM items i",
            latest_version_join!(),
            "WHERE i.id = $1"
        ))
        .bind(item_id)
        .fetch_optional(&mut *connection)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut item = row.into_snapshot_item()?;
        fill_chunks(&mut connection, vec![&mut item.state]).await?;
        Ok(Some((item.workspace_id, item.state)))
    }

    async fn workspace_of_container(
        &self,
        storage_account: &str,
        container: &str,
    ) -> StoreResult<Option<Uuid>> {
        let Some(account) = storage_account.strip_prefix(STORAGE_ACCOUNT_PREFIX) else {
            return Ok(None);
        };
        Ok(sqlx::query_scalar(
            "SELECT w.id FROM workspaces w JOIN users o ON o.id = w.owner_id \
             WHERE w.container = $2 AND coalesce(w.container_account, o.account) = $1",
        )
        .bind(account)
        .bind(container)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn referenced_chunks(
        &self,
        workspace_id: Uuid,
        chunk_ids: &[String],
    ) -> StoreResult<Vec<String>> {
        // Exactly the chunks of the versions the retention policy still
        // keeps: removed versions take their chunk rows with them.
        // Versions of a converted folder not re-keyed yet need the chunks
        // of the workspace they came from.
        Ok(sqlx::query_scalar(
            "SELECT c.chunk_id FROM version_chunks c JOIN items i ON i.id = c.item_id \
             WHERE i.workspace_id = $1 AND c.chunk_id = ANY($2) \
             UNION \
             SELECT c.chunk_id FROM version_chunks c JOIN item_versions v \
                 ON v.item_id = c.item_id AND v.version = c.version \
             WHERE v.chunk_workspace = $1 AND c.chunk_id = ANY($2) ORDER BY 1",
        )
        .bind(workspace_id)
        .bind(chunk_ids)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn collect_unreferenced_chunks(
        &self,
        workspace_id: Uuid,
        claim: i64,
        chunk_ids: &[String],
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        // The lock every commit takes first: a commit either finished before
        // (its versions' chunks are seen below) or starts after (it sees the
        // claims made here and refuses those chunks).
        sqlx::query("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        // Shared with other claims, exclusive with a pruning that raises
        // the floor: a claim below it would find a pruned record missing
        // and hold a chunk that was lifted.
        let floor: i64 = sqlx::query_scalar("SELECT floor FROM chunk_claim_floor FOR SHARE")
            .fetch_one(&mut *tx)
            .await?;
        if claim < floor {
            return Ok(Vec::new());
        }
        // Any version row counts, whatever retention keeps: a version that
        // still exists may be restored or downloaded, also one of a
        // converted folder still under this workspace's keys. Claims only grow, and
        // never at or below what was lifted (docs/operations.md).
        let mut collected: Vec<String> = sqlx::query_scalar(
            "INSERT INTO collected_chunks AS held (workspace_id, chunk_id, claim) \
             SELECT DISTINCT $1::uuid, wanted.id, $3 FROM unnest($2::text[]) AS wanted(id) \
              WHERE NOT EXISTS (SELECT 1 FROM version_chunks c JOIN items i ON i.id = c.item_id \
                                 WHERE i.workspace_id = $1 AND c.chunk_id = wanted.id) \
                AND NOT EXISTS (SELECT 1 FROM version_chunks c JOIN item_versions v \
                                    ON v.item_id = c.item_id AND v.version = c.version \
                                 WHERE v.chunk_workspace = $1 AND c.chunk_id = wanted.id) \
              ORDER BY wanted.id \
             ON CONFLICT (workspace_id, chunk_id) \
             DO UPDATE SET claim = excluded.claim, collected_at = now() \
                     WHERE held.claim < excluded.claim AND held.lifted < excluded.claim \
             RETURNING chunk_id",
        )
        .bind(workspace_id)
        .bind(chunk_ids)
        .bind(claim)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        collected.sort_unstable();
        Ok(collected)
    }

    async fn chunks_stored(
        &self,
        workspace_id: Uuid,
        up_to: i64,
        chunk_ids: &[String],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // The workspace first, as claims and commits take it, so that none
        // of them waits for another in the wrong order (a new row's key
        // check would otherwise wait for it last).
        sqlx::query("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        // A row even for a chunk never claimed here: a claim up to `up_to`
        // still on its way must find it lifted.
        sqlx::query(
            "INSERT INTO collected_chunks AS held (workspace_id, chunk_id, claim, lifted) \
             SELECT DISTINCT $1::uuid, stored.id, 0, $2 FROM unnest($3::text[]) AS stored(id) \
              ORDER BY stored.id \
             ON CONFLICT (workspace_id, chunk_id) \
             DO UPDATE SET lifted = greatest(held.lifted, excluded.lifted)",
        )
        .bind(workspace_id)
        .bind(up_to)
        .bind(chunk_ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_chunk_claims(&self, floor: i64) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        // Waits for the claims under way, and makes later ones see the new
        // floor before they touch a record.
        let floor: i64 = sqlx::query_scalar(
            "UPDATE chunk_claim_floor SET floor = greatest(floor, $1) RETURNING floor",
        )
        .bind(floor)
        .fetch_one(&mut *tx)
        .await?;
        let removed =
            sqlx::query("DELETE FROM collected_chunks WHERE claim <= lifted AND lifted < $1")
                .bind(floor)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    async fn children(
        &self,
        workspace_id: Uuid,
        folder_id: Option<Uuid>,
    ) -> StoreResult<Vec<ItemState>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<ItemRow> = sqlx::query_as(concat!(
            "SELECT ",
            item_columns!(),
            " FROM items i",
            latest_version_join!(),
            "WHERE i.workspace_id = $1 AND i.parent_id IS NOT DISTINCT FROM $2 AND NOT i.deleted \
             ORDER BY i.is_folder DESC, i.name"
        ))
        .bind(workspace_id)
        .bind(folder_id)
        .fetch_all(&mut *connection)
        .await?;
        let mut states = rows
            .into_iter()
            .map(|row| row.into_snapshot_item().map(|item| item.state))
            .collect::<StoreResult<Vec<_>>>()?;
        fill_chunks(&mut connection, states.iter_mut().collect()).await?;
        Ok(states)
    }

    async fn descendants(
        &self,
        workspace_id: Uuid,
        folder_id: Option<Uuid>,
        max: u32,
    ) -> StoreResult<Vec<ItemState>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<ItemRow> = sqlx::query_as(concat!(
            "WITH RECURSIVE below (id, is_folder) AS ( \
                 SELECT id, is_folder FROM items \
                 WHERE workspace_id = $1 AND parent_id IS NOT DISTINCT FROM $2 AND NOT deleted \
                 UNION ALL \
                 SELECT c.id, c.is_folder FROM items c JOIN below b ON c.parent_id = b.id \
                 WHERE b.is_folder AND c.workspace_id = $1 AND NOT c.deleted \
             ) SELECT ",
            item_columns!(),
            " FROM below JOIN items i ON i.id = below.id",
            latest_version_join!(),
            "LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(folder_id)
        .bind(i64::from(max))
        .fetch_all(&mut *connection)
        .await?;
        let mut states = rows
            .into_iter()
            .map(|row| row.into_snapshot_item().map(|item| item.state))
            .collect::<StoreResult<Vec<_>>>()?;
        fill_chunks(&mut connection, states.iter_mut().collect()).await?;
        Ok(states)
    }

    async fn versions(&self, item_id: Uuid) -> StoreResult<Option<(Uuid, Vec<ItemState>)>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<ItemRow> = sqlx::query_as(concat!(
            "SELECT i.id, i.workspace_id, v.parent_id, v.name, i.is_folder, v.deleted, \
                    v.version AS latest_version, v.status, v.revision, v.device_id, v.modified_at, ",
            millis!("v.committed_at"),
            " AS committed_at, v.size, v.content_hash, v.chunker, ",
            version_place_columns!(),
            " FROM items i JOIN item_versions v ON v.item_id = i.id \
              WHERE i.id = $1 ORDER BY v.version DESC"
        ))
        .bind(item_id)
        .fetch_all(&mut *connection)
        .await?;
        let Some(workspace_id) = rows.first().map(|row| row.workspace_id) else {
            return Ok(None);
        };
        let mut states = rows
            .into_iter()
            .map(|row| row.into_snapshot_item().map(|item| item.state))
            .collect::<StoreResult<Vec<_>>>()?;
        fill_chunks(&mut connection, states.iter_mut().collect()).await?;
        Ok(Some((workspace_id, states)))
    }

    async fn purge_processed_requests(&self, max_age_secs: u64) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM processed_requests WHERE created_at < now() - make_interval(secs => $1)",
        )
        .bind(max_age_secs as f64)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn commit(
        &self,
        context: &CommitContext,
        args: &CommitArgs,
    ) -> StoreResult<CommitOutcome> {
        // A re-sent request can wait on the workspace lock while its twin
        // commits: the lock is re-checked after the wait, but the joined
        // earlier answer was read before it, so both go on and the second
        // one's answer collides. Run again, it finds the twin's answer and
        // replays it.
        match self.commit_once(context, args).await {
            Err(StoreError::Database(error)) if unique_violation(&error) => {
                self.commit_once(context, args).await
            }
            outcome => outcome,
        }
    }

    async fn purge_item(&self, workspace_id: Uuid, item_id: Uuid) -> StoreResult<Removed> {
        self.purge_item_impl(workspace_id, item_id).await
    }

    async fn workspace_ids(&self) -> StoreResult<Vec<Uuid>> {
        self.workspace_ids_impl().await
    }

    async fn apply_retention(
        &self,
        workspace_id: Uuid,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> StoreResult<Option<Removed>> {
        self.apply_retention_impl(workspace_id, policy, batch).await
    }

    async fn find_user(&self, addressee: &str) -> StoreResult<Option<UserRef>> {
        self.find_user_impl(addressee).await
    }

    async fn workspace_record(&self, workspace_id: Uuid) -> StoreResult<Option<WorkspaceRecord>> {
        self.workspace_record_impl(workspace_id).await
    }

    async fn member_workspace(
        &self,
        user_id: Uuid,
        workspace_id: Uuid,
    ) -> StoreResult<Option<WorkspaceInfo>> {
        self.member_workspace_impl(user_id, workspace_id).await
    }

    async fn create_proposals(
        &self,
        new: NewProposals<'_>,
        audit: &Audit,
    ) -> StoreResult<Vec<Proposal>> {
        self.create_proposals_impl(new, audit).await
    }

    async fn proposals_of(&self, user_id: Uuid) -> StoreResult<ProposalList> {
        self.proposals_of_impl(user_id).await
    }

    async fn proposal(&self, proposal_id: Uuid) -> StoreResult<Option<Proposal>> {
        self.proposal_impl(proposal_id).await
    }

    async fn accept_proposal(
        &self,
        proposal_id: Uuid,
        mount_name: Option<&str>,
        mount_parent: Option<Uuid>,
        key_check: Option<&str>,
        audit: &Audit,
    ) -> StoreResult<(Proposal, WorkspaceInfo)> {
        self.accept_proposal_impl(proposal_id, mount_name, mount_parent, key_check, audit)
            .await
    }

    async fn close_proposal(
        &self,
        proposal_id: Uuid,
        status: ProposalStatus,
        audit: &Audit,
    ) -> StoreResult<Proposal> {
        self.close_proposal_impl(proposal_id, status, audit).await
    }

    async fn expire_proposals(&self) -> StoreResult<u64> {
        self.expire_proposals_impl().await
    }

    async fn all_proposals(&self, pending_only: bool) -> StoreResult<Vec<Proposal>> {
        self.all_proposals_impl(pending_only).await
    }

    async fn members(&self, workspace_id: Uuid) -> StoreResult<Vec<Member>> {
        self.members_impl(workspace_id).await
    }

    async fn set_member_role(
        &self,
        workspace_id: Uuid,
        user_id: Uuid,
        role: Role,
        audit: &Audit,
    ) -> StoreResult<Option<Member>> {
        self.set_member_role_impl(workspace_id, user_id, role, audit)
            .await
    }

    async fn remove_members(
        &self,
        workspace_id: Uuid,
        user_id: Option<Uuid>,
        audit: &Audit,
    ) -> StoreResult<Removal> {
        self.remove_members_impl(workspace_id, user_id, audit).await
    }

    async fn transfer_ownership(
        &self,
        workspace_id: Uuid,
        from: Uuid,
        to: Uuid,
        audit: &Audit,
    ) -> StoreResult<Vec<Proposal>> {
        self.transfer_ownership_impl(workspace_id, from, to, audit)
            .await
    }

    async fn update_mount(&self, mount: Mount<'_>) -> StoreResult<WorkspaceInfo> {
        self.update_mount_impl(mount).await
    }

    async fn transferred_containers(&self, account: &str) -> StoreResult<Vec<String>> {
        self.transferred_containers_impl(account).await
    }

    async fn convert_folder(&self, conversion: &Conversion) -> StoreResult<ConvertedFolder> {
        self.convert_folder_impl(conversion).await
    }

    async fn versions_to_rekey(
        &self,
        after: Option<RekeyCursor>,
        limit: u32,
    ) -> StoreResult<Vec<VersionToRekey>> {
        self.versions_to_rekey_impl(after, limit).await
    }

    async fn rekey_version(&self, args: &RekeyVersionArgs) -> StoreResult<RekeyOutcome> {
        self.rekey_version_impl(args).await
    }

    async fn record_device_queue(&self, device_id: Uuid, queue: &str) -> StoreResult<()> {
        self.record_device_queue_impl(device_id, queue).await
    }

    async fn device_queues_of(&self, user_id: Uuid) -> StoreResult<Vec<String>> {
        self.device_queues_of_impl(user_id).await
    }

    async fn queues_of_device(&self, device_id: Uuid) -> StoreResult<Vec<String>> {
        self.queues_of_device_impl(device_id).await
    }

    async fn forget_device_queues(&self, queues: &[String]) -> StoreResult<()> {
        self.forget_device_queues_impl(queues).await
    }

    async fn create_link(&self, link: NewLink<'_>, audit: &Audit) -> StoreResult<LinkInfo> {
        self.create_link_impl(link, audit).await
    }

    async fn links_of(&self, creator_id: Uuid) -> StoreResult<Vec<LinkInfo>> {
        self.links_of_impl(creator_id).await
    }

    async fn all_links(&self) -> StoreResult<Vec<LinkRecord>> {
        self.all_links_impl().await
    }

    async fn count_links(&self, creator: Option<&str>) -> StoreResult<u64> {
        self.count_links_impl(creator).await
    }

    async fn links_page(
        &self,
        creator: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Vec<LinkRecord>> {
        self.links_page_impl(creator, offset, limit).await
    }

    async fn revoke_link(
        &self,
        link_id: Uuid,
        creator_id: Option<Uuid>,
        audit: &Audit,
    ) -> StoreResult<Option<LinkInfo>> {
        self.revoke_link_impl(link_id, creator_id, audit).await
    }

    async fn link_by_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>> {
        self.link_by_token_impl(token_hash).await
    }

    async fn record_link_failure(&self, link_id: Uuid) -> StoreResult<()> {
        self.record_link_failure_impl(link_id).await
    }

    async fn clear_link_failures(&self, link_id: Uuid) -> StoreResult<()> {
        self.clear_link_failures_impl(link_id).await
    }

    async fn count_link_download(&self, link_id: Uuid) -> StoreResult<bool> {
        self.count_link_download_impl(link_id).await
    }

    async fn is_within(
        &self,
        workspace_id: Uuid,
        root: Option<Uuid>,
        item_id: Uuid,
    ) -> StoreResult<bool> {
        self.is_within_impl(workspace_id, root, item_id).await
    }
}

mod audit;
mod commit;
mod conversion;
mod deletion;
mod links;

use audit::insert_audit;
mod retention;
mod sharing;
