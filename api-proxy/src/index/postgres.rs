//! [`ObjectIndex`] on PostgreSQL, with the migrations under `migrations/proxy/`,
//! and container ACLs cached in memory ([`AclCache`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{FromRow, PgPool, Postgres, Row, Transaction};

use super::Archive;
use super::acl_cache::AclCache;
use super::{
    AccountInfo, CandidatePage, CollectedObject, CollectionLock, ContainerAcl, ContainerInfo,
    ContainerUpdate, Content, DeleteContainerOutcome, IndexError, ListRange, Manifest, Metadata,
    MetadataUpdate, ObjectIndex, ObjectRecord, ObjectUpdate, PutOutcome, PutResult, SymlinkTarget,
    UploadLimits, Versioning, VersioningMode,
};
use crate::timestamp::Timestamp;

/// PostgreSQL's code for a foreign-key violation.
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// Whether `error` is a foreign-key violation: the object's container does
/// not exist, or the container still holds objects.
fn violates_foreign_key(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(FOREIGN_KEY_VIOLATION))
}

#[derive(Clone)]
pub struct PgIndex {
    pool: PgPool,
    acls: Arc<AclCache>,
}

impl PgIndex {
    /// Connects, creating the database when it does not exist yet, and
    /// applies the migrations. Container ACLs are cached for `acl_cache_ttl`.
    pub async fn connect(database_url: &str, acl_cache_ttl: Duration) -> Result<Self, IndexError> {
        if !Postgres::database_exists(database_url).await? {
            Postgres::create_database(database_url).await?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(database_url)
            .await?;
        sqlx::migrate!("../migrations/proxy")
            .run(&pool)
            .await
            .map_err(sqlx::Error::from)?;
        Ok(Self {
            pool,
            acls: Arc::new(AclCache::new(acl_cache_ttl)),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ContainerRow {
    name: String,
    created_us: i64,
    modified_us: i64,
    meta: Json<Metadata>,
    read_acl: Option<String>,
    write_acl: Option<String>,
    object_count: i64,
    bytes_used: i64,
    versions_location: Option<String>,
    versions_mode: Option<String>,
    sync_key: Option<String>,
}

/// The columns `versions_location` and `versions_mode`.
fn versioning(location: Option<String>, mode: Option<String>) -> Option<Versioning> {
    let mode = match mode?.as_str() {
        "history" => VersioningMode::History,
        _ => VersioningMode::Stack,
    };
    Some(Versioning {
        location: location?,
        mode,
    })
}

fn versions_mode_column(mode: VersioningMode) -> &'static str {
    match mode {
        VersioningMode::Stack => "stack",
        VersioningMode::History => "history",
    }
}

impl From<ContainerRow> for ContainerInfo {
    fn from(row: ContainerRow) -> Self {
        Self {
            name: row.name,
            created: Timestamp::from_micros(row.created_us),
            modified: Timestamp::from_micros(row.modified_us),
            meta: row.meta.0,
            acl: ContainerAcl {
                read: row.read_acl,
                write: row.write_acl,
            },
            object_count: non_negative(row.object_count),
            bytes_used: non_negative(row.bytes_used),
            versioning: versioning(row.versions_location, row.versions_mode),
            sync_key: row.sync_key,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ObjectRow {
    name: String,
    blob_key: Option<String>,
    /// Listings select NULL here: they do not load inline bytes.
    inline_data: Option<Vec<u8>>,
    size: i64,
    etag: String,
    content_type: String,
    meta: Json<Metadata>,
    modified_us: i64,
    dlo_manifest: Option<String>,
    slo_manifest_size: Option<i64>,
    slo_manifest_etag: Option<String>,
    delete_at: Option<i64>,
    symlink: Option<Json<SymlinkTarget>>,
}

impl From<ObjectRow> for ObjectRecord {
    fn from(row: ObjectRow) -> Self {
        Self {
            name: row.name,
            content: content(row.blob_key, row.inline_data),
            size: non_negative(row.size),
            etag: row.etag,
            content_type: row.content_type,
            meta: row.meta.0,
            modified: Timestamp::from_micros(row.modified_us),
            manifest: match (row.dlo_manifest, row.slo_manifest_size) {
                (Some(container_and_prefix), _) => Some(Manifest::Dynamic {
                    container_and_prefix,
                }),
                (None, Some(size)) => Some(Manifest::Static {
                    manifest_size: non_negative(size),
                    manifest_etag: row.slo_manifest_etag,
                }),
                (None, None) => None,
            },
            delete_at: row.delete_at.map(non_negative),
            symlink: row.symlink.map(|link| link.0),
        }
    }
}

/// The columns `blob_key` and `inline_data`, of which the schema sets exactly
/// one (listings read `inline_data` as NULL).
fn content(blob_key: Option<String>, inline_data: Option<Vec<u8>>) -> Content {
    match (blob_key, inline_data) {
        (Some(key), _) => Content::Blob(key),
        (None, data) => Content::Inline(data.map(Bytes::from)),
    }
}

fn non_negative(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn as_sql_size(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn as_sql_limit(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The current Unix time in seconds, against which `delete_at` is compared.
fn unix_now() -> i64 {
    Timestamp::now().as_micros() / 1_000_000
}

/// A [`range_scan!`] query with the [`ListRange`] bound: `$1` the prefix,
/// `$2`/`$3` lower bound and inclusiveness, `$4`/`$5` upper bound, `$6` the
/// limit. The caller binds the scope.
fn range_query<'q, O>(
    sql: &'static str,
    range: &'q ListRange,
) -> sqlx::query::QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_as(sql)
        .bind(&range.prefix)
        .bind(range.lower.as_ref().map(|b| b.name.as_str()))
        .bind(range.lower.as_ref().is_some_and(|b| b.inclusive))
        .bind(range.upper.as_ref().map(|b| b.name.as_str()))
        .bind(range.upper.as_ref().is_some_and(|b| b.inclusive))
        .bind(as_sql_limit(range.limit))
}

/// A scan in `$order` over names starting with `$1`, between the bounds
/// `$2`..`$5`, at most `$6` rows; `$select` filters on the scope (`$7`, `$8`).
macro_rules! range_scan {
    ($select:literal, $order:literal) => {
        concat!(
            $select,
            " AND starts_with(name, $1)
              AND ($2::text IS NULL OR name > $2 OR ($3 AND name = $2))
              AND ($4::text IS NULL OR name < $4 OR ($5 AND name = $4))
              ORDER BY name ",
            $order,
            " LIMIT $6"
        )
    };
}

macro_rules! container_scan {
    ($order:literal) => {
        range_scan!(
            "SELECT c.name, c.created_us, c.modified_us, c.meta, c.read_acl, c.write_acl,
                    c.versions_location, c.versions_mode, c.sync_key,
                    (SELECT count(*) FROM objects o
                      WHERE o.account = c.account AND o.container = c.name) AS object_count,
                    (SELECT coalesce(sum(o.size), 0)::bigint FROM objects o
                      WHERE o.account = c.account AND o.container = c.name) AS bytes_used
               FROM containers c WHERE c.account = $7 AND c.name <> ALL($8)",
            $order
        )
    };
}

macro_rules! object_scan {
    ($order:literal) => {
        range_scan!(
            "SELECT name, blob_key, NULL::bytea AS inline_data, size, etag, content_type, meta,
                    modified_us, dlo_manifest, slo_manifest_size, slo_manifest_etag, delete_at,
                    symlink
               FROM objects WHERE account = $7 AND container = $8
                AND (delete_at IS NULL OR delete_at > $9)",
            $order
        )
    };
}

impl PgIndex {
    /// Creates the container (and its account) unless it exists; whether it
    /// was created.
    async fn insert_container(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        account: &str,
        container: &str,
    ) -> Result<bool, IndexError> {
        Self::ensure_account(&mut **tx, account).await?;
        let inserted = sqlx::query(
            "INSERT INTO containers (account, name, created_us, modified_us)
             VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(container)
        .bind(Timestamp::now().as_micros())
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1;
        Ok(inserted)
    }

    async fn ensure_account(
        executor: impl sqlx::PgExecutor<'_>,
        account: &str,
    ) -> Result<(), IndexError> {
        sqlx::query(
            "INSERT INTO accounts (name, created_us) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(account)
        .bind(Timestamp::now().as_micros())
        .execute(executor)
        .await?;
        Ok(())
    }

    async fn apply_container_update(
        executor: impl sqlx::PgExecutor<'_>,
        account: &str,
        container: &str,
        update: &ContainerUpdate,
    ) -> Result<bool, IndexError> {
        let result = sqlx::query(
            "UPDATE containers
                SET meta = (meta || $3) - $4::text[],
                    read_acl = CASE WHEN $5 THEN $6 ELSE read_acl END,
                    write_acl = CASE WHEN $7 THEN $8 ELSE write_acl END,
                    modified_us = $9,
                    versions_location = CASE WHEN $10 THEN $11 ELSE versions_location END,
                    versions_mode = CASE WHEN $10 THEN $12 ELSE versions_mode END,
                    sync_key = CASE WHEN $13 THEN $14 ELSE sync_key END
              WHERE account = $1 AND name = $2",
        )
        .bind(account)
        .bind(container)
        .bind(Json(&update.meta.set))
        .bind(&update.meta.remove)
        .bind(update.read_acl.is_some())
        .bind(update.read_acl.clone().flatten())
        .bind(update.write_acl.is_some())
        .bind(update.write_acl.clone().flatten())
        .bind(Timestamp::now().as_micros())
        .bind(update.versioning.is_some())
        .bind(
            update
                .versioning
                .iter()
                .flatten()
                .next()
                .map(|v| &v.location),
        )
        .bind(
            update
                .versioning
                .iter()
                .flatten()
                .next()
                .map(|v| versions_mode_column(v.mode)),
        )
        .bind(update.sync_key.is_some())
        .bind(update.sync_key.clone().flatten())
        .execute(executor)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Inserts `object` unless its name is taken; `None` when the container
    /// does not exist.
    async fn insert_object(
        executor: impl sqlx::PgExecutor<'_>,
        account: &str,
        container: &str,
        object: &ObjectRecord,
    ) -> Result<Option<Insertion>, IndexError> {
        match bind_object(sqlx::query(INSERT_OBJECT), account, container, object)
            .fetch_one(executor)
            .await
        {
            Ok(row) => Ok(Some(Insertion::from_row(&row)?)),
            Err(e) if violates_foreign_key(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves the object `name` of `container` to `to` (container, name) of
    /// the same account, timestamped `modified` when given; `false` when the
    /// destination container does not exist (the transaction is then
    /// aborted).
    async fn move_object(
        executor: impl sqlx::PgExecutor<'_>,
        account: &str,
        (container, name): (&str, &str),
        (to_container, to_name): (&str, &str),
        modified: Option<Timestamp>,
    ) -> Result<bool, IndexError> {
        let moved = sqlx::query(
            "UPDATE objects SET container = $4, name = $5,
                    modified_us = coalesce($6, modified_us)
              WHERE account = $1 AND container = $2 AND name = $3",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(to_container)
        .bind(to_name)
        .bind(modified.map(Timestamp::as_micros))
        .execute(executor)
        .await;
        match moved {
            Ok(_) => Ok(true),
            Err(e) if violates_foreign_key(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Locks the object `name` and reads its timestamp, expiry and blob key.
    async fn lock_object(
        executor: impl sqlx::PgExecutor<'_>,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<LockedObject>, IndexError> {
        Ok(sqlx::query_as(
            "SELECT modified_us, delete_at, blob_key FROM objects
              WHERE account = $1 AND container = $2 AND name = $3 FOR UPDATE",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .fetch_optional(executor)
        .await?)
    }
}

/// What [`INSERT_OBJECT`] did.
#[derive(sqlx::FromRow)]
struct Insertion {
    /// Whether the object was inserted (its name was free).
    inserted: bool,
    /// See [`PutResult::claim_held`].
    claim_held: bool,
}

/// An object row locked for a versioned write.
#[derive(sqlx::FromRow)]
struct LockedObject {
    modified_us: i64,
    delete_at: Option<i64>,
    blob_key: Option<String>,
}

impl LockedObject {
    /// Whether readers still see it (it has not expired).
    fn is_live(&self) -> bool {
        self.delete_at.is_none_or(|at| at > unix_now())
    }
}

/// The advisory lock key of chunk collection (any constant unique in the
/// index database).
const COLLECTION_LOCK: i64 = 0x6e69_6d62_7573_6763;

/// The condition (on `objects o`, cutoff `$1`) of a chunk object that may be
/// collected: a plain object neither written nor confirmed since the cutoff.
macro_rules! stale_chunk {
    () => {
        " o.modified_us < $1 AND coalesce(o.confirmed_us, 0) < $1
          AND o.dlo_manifest IS NULL AND o.slo_manifest_size IS NULL AND o.symlink IS NULL "
    };
}

/// `column = ANY($param)` (a text array of names), also bounded by the
/// array's least and greatest name. Alone, the condition on the array can be
/// planned as a filter over every row of the container (a cached generic
/// plan from when the table was small): each batch of a collection then
/// compared its names with every row, a pass quadratic in the store. With
/// the bounds, the index reads only the key range of the batch.
macro_rules! names_in {
    ($column:literal, $param:literal) => {
        concat!(
            " ",
            $column,
            " = ANY(",
            $param,
            ") AND ",
            $column,
            " BETWEEN (SELECT min(n COLLATE \"C\") FROM unnest(",
            $param,
            "::text[]) AS n) AND (SELECT max(n COLLATE \"C\") FROM unnest(",
            $param,
            "::text[]) AS n) "
        )
    };
}

#[async_trait]
impl ObjectIndex for PgIndex {
    async fn ping(&self) -> Result<(), IndexError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn account(&self, account: &str) -> Result<AccountInfo, IndexError> {
        let row: Option<(i64, Json<Metadata>, Json<Metadata>, Option<String>)> = sqlx::query_as(
            "SELECT created_us, meta, quotas, access_control FROM accounts WHERE name = $1",
        )
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        let Some((created_us, meta, quotas, access_control)) = row else {
            return Ok(AccountInfo::default());
        };
        let (container_count, object_count, bytes_used): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM containers WHERE account = $1),
                    (SELECT count(*) FROM objects WHERE account = $1),
                    (SELECT coalesce(sum(size), 0)::bigint FROM objects WHERE account = $1)",
        )
        .bind(account)
        .fetch_one(&self.pool)
        .await?;
        Ok(AccountInfo {
            created: Some(Timestamp::from_micros(created_us)),
            meta: meta.0,
            quotas: quotas.0,
            access_control,
            container_count: non_negative(container_count),
            object_count: non_negative(object_count),
            bytes_used: non_negative(bytes_used),
        })
    }

    async fn update_account(&self, account: &str, meta: &MetadataUpdate) -> Result<(), IndexError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_account(&mut *tx, account).await?;
        sqlx::query("UPDATE accounts SET meta = (meta || $2) - $3::text[] WHERE name = $1")
            .bind(account)
            .bind(Json(&meta.set))
            .bind(&meta.remove)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_meta(&self, account: &str) -> Result<Metadata, IndexError> {
        let row: Option<(Json<Metadata>,)> =
            sqlx::query_as("SELECT meta FROM accounts WHERE name = $1")
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(meta,)| meta.0).unwrap_or_default())
    }

    async fn account_access_control(&self, account: &str) -> Result<Option<String>, IndexError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT access_control FROM accounts WHERE name = $1")
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(access_control,)| access_control))
    }

    async fn set_account_access_control(
        &self,
        account: &str,
        access_control: Option<&str>,
    ) -> Result<(), IndexError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_account(&mut *tx, account).await?;
        sqlx::query("UPDATE accounts SET access_control = $2 WHERE name = $1")
            .bind(account)
            .bind(access_control)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_account_quotas(
        &self,
        account: &str,
        quotas: &MetadataUpdate,
    ) -> Result<(), IndexError> {
        let mut tx = self.pool.begin().await?;
        Self::ensure_account(&mut *tx, account).await?;
        sqlx::query("UPDATE accounts SET quotas = (quotas || $2) - $3::text[] WHERE name = $1")
            .bind(account)
            .bind(Json(&quotas.set))
            .bind(&quotas.remove)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload_limits(
        &self,
        account: &str,
        container: &str,
        object: Option<&str>,
    ) -> Result<Option<UploadLimits>, IndexError> {
        let row: Option<(Json<Metadata>, Json<Metadata>, bool)> = sqlx::query_as(
            "SELECT a.quotas, c.meta,
                    EXISTS (SELECT 1 FROM objects o
                             WHERE o.account = $1 AND o.container = $2 AND o.name = $3
                               AND (o.delete_at IS NULL OR o.delete_at > $4))
               FROM containers c JOIN accounts a ON a.name = c.account
              WHERE c.account = $1 AND c.name = $2",
        )
        .bind(account)
        .bind(container)
        .bind(object)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(quotas, meta, object_exists)| UploadLimits {
            account_quotas: quotas.0,
            container_meta: meta.0,
            object_exists,
        }))
    }

    async fn list_containers(
        &self,
        account: &str,
        range: &ListRange,
        hidden: &[String],
    ) -> Result<Vec<ContainerInfo>, IndexError> {
        let sql = if range.reverse {
            container_scan!("DESC")
        } else {
            container_scan!("ASC")
        };
        let rows: Vec<ContainerRow> = range_query(sql, range)
            .bind(account)
            .bind(hidden)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ContainerInfo::from).collect())
    }

    async fn ensure_container(&self, account: &str, container: &str) -> Result<bool, IndexError> {
        let mut tx = self.pool.begin().await?;
        let inserted = Self::insert_container(&mut tx, account, container).await?;
        tx.commit().await?;
        if inserted {
            self.acls.invalidate(account, container);
        }
        Ok(inserted)
    }

    async fn put_container(
        &self,
        account: &str,
        container: &str,
        update: &ContainerUpdate,
    ) -> Result<bool, IndexError> {
        let mut tx = self.pool.begin().await?;
        let inserted = Self::insert_container(&mut tx, account, container).await?;
        // Applying even an empty update marks the container modified, as a
        // PUT on an existing container does in Swift.
        if !inserted || !update.is_empty() {
            Self::apply_container_update(&mut *tx, account, container, update).await?;
        }
        tx.commit().await?;
        self.acls.invalidate(account, container);
        Ok(inserted)
    }

    async fn container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerInfo>, IndexError> {
        let range = ListRange {
            prefix: String::new(),
            lower: Some(super::Bound {
                name: container.to_owned(),
                inclusive: true,
            }),
            upper: Some(super::Bound {
                name: container.to_owned(),
                inclusive: true,
            }),
            reverse: false,
            limit: 1,
        };
        Ok(self.list_containers(account, &range, &[]).await?.pop())
    }

    async fn container_meta(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<Metadata>, IndexError> {
        let row: Option<(Json<Metadata>,)> =
            sqlx::query_as("SELECT meta FROM containers WHERE account = $1 AND name = $2")
                .bind(account)
                .bind(container)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(meta,)| meta.0))
    }

    async fn container_acl(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerAcl>, IndexError> {
        if let Some(acl) = self.acls.get(account, container) {
            return Ok(Some(acl));
        }
        let read_at = self.acls.generation();
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT read_acl, write_acl FROM containers WHERE account = $1 AND name = $2",
        )
        .bind(account)
        .bind(container)
        .fetch_optional(&self.pool)
        .await?;
        let acl = row.map(|(read, write)| ContainerAcl { read, write });
        if let Some(acl) = &acl {
            self.acls.insert(account, container, acl, read_at);
        }
        Ok(acl)
    }

    async fn update_container(
        &self,
        account: &str,
        container: &str,
        update: &ContainerUpdate,
    ) -> Result<bool, IndexError> {
        let found = Self::apply_container_update(&self.pool, account, container, update).await?;
        self.acls.invalidate(account, container);
        Ok(found)
    }

    async fn delete_container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<DeleteContainerOutcome, IndexError> {
        let result = sqlx::query("DELETE FROM containers WHERE account = $1 AND name = $2")
            .bind(account)
            .bind(container)
            .execute(&self.pool)
            .await;
        self.acls.invalidate(account, container);
        match result {
            Ok(done) if done.rows_affected() == 1 => Ok(DeleteContainerOutcome::Deleted),
            Ok(_) => Ok(DeleteContainerOutcome::NotFound),
            Err(e) if violates_foreign_key(&e) => Ok(DeleteContainerOutcome::NotEmpty),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_objects(
        &self,
        account: &str,
        container: &str,
        range: &ListRange,
    ) -> Result<Vec<ObjectRecord>, IndexError> {
        let sql = if range.reverse {
            object_scan!("DESC")
        } else {
            object_scan!("ASC")
        };
        let rows: Vec<ObjectRow> = range_query(sql, range)
            .bind(account)
            .bind(container)
            .bind(unix_now())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ObjectRecord::from).collect())
    }

    async fn object(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<ObjectRecord>, IndexError> {
        let row: Option<ObjectRow> = sqlx::query_as(
            "SELECT name, blob_key, inline_data, size, etag, content_type, meta, modified_us,
                    dlo_manifest, slo_manifest_size, slo_manifest_etag, delete_at, symlink
               FROM objects WHERE account = $1 AND container = $2 AND name = $3
                AND (delete_at IS NULL OR delete_at > $4)",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ObjectRecord::from))
    }

    async fn put_object(
        &self,
        account: &str,
        container: &str,
        object: &ObjectRecord,
        overwrite: bool,
    ) -> Result<PutResult, IndexError> {
        // Each statement is atomic on its own, so the common case (a new
        // name) is one round trip and one commit. The foreign key both
        // checks that the container exists and keeps it from being deleted
        // until the insert commits.
        loop {
            match Self::insert_object(&self.pool, account, container, object).await? {
                Some(Insertion {
                    inserted: true,
                    claim_held,
                }) => {
                    return Ok(PutResult {
                        outcome: PutOutcome::Stored,
                        replaced_blob: None,
                        claim_held,
                    });
                }
                Some(_) if !overwrite => {
                    return Ok(PutResult::unstored(PutOutcome::AlreadyExists));
                }
                Some(_) => {}
                None => return Ok(PutResult::unstored(PutOutcome::ContainerMissing)),
            }
            // The name exists: replace that version. The subquery locks the
            // row and reads its newest blob key (NULL for inline bytes),
            // which the update then returns, so the replaced blob is known
            // exactly even under concurrent overwrites.
            let replaced = sqlx::query(
                "UPDATE objects o
                    SET blob_key = $4, inline_data = $5, size = $6, etag = $7,
                        content_type = $8, meta = $9, modified_us = $10, dlo_manifest = $11,
                        slo_manifest_size = $12, slo_manifest_etag = $13, delete_at = $14,
                        symlink = $15
                   FROM (SELECT account, container, name, blob_key FROM objects
                          WHERE account = $1 AND container = $2 AND name = $3
                          FOR UPDATE) previous
                  WHERE o.account = previous.account AND o.container = previous.container
                    AND o.name = previous.name
                  RETURNING previous.blob_key,
                            EXISTS (SELECT 1 FROM collected_chunks c
                                     WHERE c.account = $1 AND c.container = $2
                                       AND c.name = $3)",
            );
            let replaced = bind_object(replaced, account, container, object)
                .fetch_optional(&self.pool)
                .await?;
            // None: deleted since the insert was refused; insert again.
            if let Some(row) = replaced {
                let (replaced_blob, claim_held) = (row.try_get(0)?, row.try_get(1)?);
                return Ok(PutResult {
                    outcome: PutOutcome::Stored,
                    replaced_blob,
                    claim_held,
                });
            }
        }
    }

    async fn container_versioning(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<Versioning>, IndexError> {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT versions_location, versions_mode FROM containers
              WHERE account = $1 AND name = $2",
        )
        .bind(account)
        .bind(container)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(location, mode)| versioning(location, mode)))
    }

    async fn put_object_archiving(
        &self,
        account: &str,
        container: &str,
        object: &ObjectRecord,
        overwrite: bool,
        archive: &Archive<'_>,
    ) -> Result<Option<PutResult>, IndexError> {
        loop {
            let mut tx = self.pool.begin().await?;
            let current = Self::lock_object(&mut *tx, account, container, &object.name).await?;
            let mut replaced_blob = None;
            match current {
                Some(_) if !overwrite => {
                    return Ok(Some(PutResult::unstored(PutOutcome::AlreadyExists)));
                }
                Some(current) if current.is_live() => {
                    let archived = (archive.name)(Timestamp::from_micros(current.modified_us));
                    let from = (container, object.name.as_str());
                    let to = (archive.container, archived.as_str());
                    if !Self::move_object(&mut *tx, account, from, to, None).await? {
                        return Ok(None);
                    }
                }
                // An expired object is gone for clients: nothing to keep.
                Some(current) => {
                    sqlx::query(
                        "DELETE FROM objects WHERE account = $1 AND container = $2 AND name = $3",
                    )
                    .bind(account)
                    .bind(container)
                    .bind(&object.name)
                    .execute(&mut *tx)
                    .await?;
                    replaced_blob = current.blob_key;
                }
                None => {}
            }
            match Self::insert_object(&mut *tx, account, container, object).await? {
                Some(Insertion {
                    inserted: true,
                    claim_held,
                }) => {
                    tx.commit().await?;
                    return Ok(Some(PutResult {
                        outcome: PutOutcome::Stored,
                        replaced_blob,
                        claim_held,
                    }));
                }
                // Created since the lock found nothing: lock it this time.
                Some(_) => continue,
                None => return Ok(Some(PutResult::unstored(PutOutcome::ContainerMissing))),
            }
        }
    }

    async fn archive_deleted_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
        archive: &Archive<'_>,
        marker: &ObjectRecord,
    ) -> Result<Option<bool>, IndexError> {
        let mut tx = self.pool.begin().await?;
        let current = Self::lock_object(&mut *tx, account, container, name).await?;
        let existed = current.as_ref().is_some_and(LockedObject::is_live);
        if let Some(current) = current.filter(LockedObject::is_live) {
            let archived = (archive.name)(Timestamp::from_micros(current.modified_us));
            let to = (archive.container, archived.as_str());
            if !Self::move_object(&mut *tx, account, (container, name), to, None).await? {
                return Ok(None);
            }
        }
        let inserted = Self::insert_object(&mut *tx, account, archive.container, marker).await?;
        if !inserted.is_some_and(|insertion| insertion.inserted) {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(existed))
    }

    async fn restore_archived(
        &self,
        account: &str,
        container: &str,
        name: &str,
        versions: &str,
        archived: &str,
    ) -> Result<Option<Option<Content>>, IndexError> {
        let mut tx = self.pool.begin().await?;
        if Self::lock_object(&mut *tx, account, versions, archived)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let removed: Option<(Option<String>,)> = sqlx::query_as(
            "DELETE FROM objects WHERE account = $1 AND container = $2 AND name = $3
             RETURNING blob_key",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let from = (versions, archived);
        if !Self::move_object(
            &mut *tx,
            account,
            from,
            (container, name),
            Some(Timestamp::now()),
        )
        .await?
        {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(removed.map(|(key,)| content(key, None))))
    }

    async fn update_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
        update: &ObjectUpdate,
    ) -> Result<bool, IndexError> {
        let result = sqlx::query(
            "UPDATE objects SET meta = $4, content_type = $5, modified_us = $6, delete_at = $7,
                    dlo_manifest = CASE WHEN slo_manifest_size IS NULL THEN $9 END
              WHERE account = $1 AND container = $2 AND name = $3
                AND (delete_at IS NULL OR delete_at > $8)",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(Json(&update.meta))
        .bind(&update.content_type)
        .bind(Timestamp::now().as_micros())
        .bind(update.delete_at.map(as_sql_size))
        .bind(unix_now())
        .bind(&update.dynamic_manifest)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Content>, IndexError> {
        let deleted: Option<(Option<String>,)> = sqlx::query_as(
            "DELETE FROM objects WHERE account = $1 AND container = $2 AND name = $3
                AND (delete_at IS NULL OR delete_at > $4)
             RETURNING blob_key",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(deleted.map(|(key,)| content(key, None)))
    }

    async fn delete_expired(
        &self,
        now: u64,
        limit: usize,
        container: Option<(&str, &str)>,
    ) -> Result<Vec<Content>, IndexError> {
        let (account, container) = container.unzip();
        let deleted: Vec<(Option<String>,)> = sqlx::query_as(
            "DELETE FROM objects WHERE (account, container, name) IN (
                 SELECT account, container, name FROM objects
                  WHERE delete_at <= $1
                    AND ($3::text IS NULL OR (account = $3 AND container = $4))
                  LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING blob_key",
        )
        .bind(as_sql_size(now))
        .bind(as_sql_limit(limit))
        .bind(account)
        .bind(container)
        .fetch_all(&self.pool)
        .await?;
        Ok(deleted
            .into_iter()
            .map(|(key,)| content(key, None))
            .collect())
    }

    async fn forget_lost_blob(&self, key: &str) -> Result<bool, IndexError> {
        let removed = sqlx::query("DELETE FROM objects WHERE blob_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected() > 0)
    }

    async fn referenced_blobs(&self, keys: &[String]) -> Result<HashSet<String>, IndexError> {
        let referenced: Vec<(String,)> =
            sqlx::query_as("SELECT blob_key FROM objects WHERE blob_key = ANY($1)")
                .bind(keys)
                .fetch_all(&self.pool)
                .await?;
        Ok(referenced.into_iter().map(|(key,)| key).collect())
    }

    async fn confirm_chunk(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<bool, IndexError> {
        // One round trip: a HEAD of a chunk is the hot path of deduplication.
        Ok(sqlx::query_scalar(
            "WITH confirmed AS (
                 UPDATE objects SET confirmed_us = $4
                  WHERE account = $1 AND container = $2 AND name = $3
                  RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM confirmed)
                AND EXISTS (SELECT 1 FROM collected_chunks
                             WHERE account = $1 AND container = $2 AND name = $3)",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(Timestamp::now().as_micros())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn fence_collected_chunks(
        &self,
        (account, container): (&str, &str),
        names: &[String],
    ) -> Result<Option<(i64, Vec<String>)>, IndexError> {
        let mut tx = self.pool.begin().await?;
        // The objects first, in name order, as a collection's delete locks
        // them: one deleted meanwhile is not fenced (it is gone).
        let existing = lock_objects(&mut tx, (account, container), names).await?;
        let held = lock_collected(&mut tx, (account, container), &existing, None).await?;
        if held.is_empty() {
            return Ok(None);
        }
        let up_to: i64 = sqlx::query_scalar(concat!(
            "UPDATE collected_chunks SET claim = (SELECT nextval('chunk_claims'))
              WHERE account = $1 AND container = $2 AND",
            names_in!("name", "$3"),
            "RETURNING claim"
        ))
        .bind(account)
        .bind(container)
        .bind(&held)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .max()
        .unwrap_or_default();
        tx.commit().await?;
        Ok(Some((up_to, held)))
    }

    async fn forget_collected_chunks(
        &self,
        (account, container): (&str, &str),
        up_to: i64,
        names: &[String],
    ) -> Result<(), IndexError> {
        sqlx::query(concat!(
            "DELETE FROM collected_chunks WHERE account = $1 AND container = $2 AND claim = $3 AND",
            names_in!("name", "$4")
        ))
        .bind(account)
        .bind(container)
        .bind(up_to)
        .bind(names)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn lock_collection(&self) -> Result<Option<CollectionLock>, IndexError> {
        // A session lock on a connection of its own, taken out of the pool:
        // dropping the guard closes it, which releases the lock, also when
        // the task is aborted.
        let mut connection = self.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(COLLECTION_LOCK)
            .fetch_one(&mut connection)
            .await?;
        Ok(locked.then(|| CollectionLock::held_by(connection)))
    }

    async fn collection_candidates(
        &self,
        cutoff_us: i64,
        after: Option<(&str, &str, &str)>,
        limit: usize,
    ) -> Result<CandidatePage, IndexError> {
        let (account, container, name) = after.unwrap_or_default();
        // A page of the primary key first, then the conditions on it: each
        // query reads `limit` rows in key order, however few of them are
        // candidates, so a pass reads the index once (filtering first
        // made the planner scan and sort the whole table for every page).
        // A chunk id is 64 lowercase hexadecimal digits, tested without
        // `~ '^[0-9a-f]{64}$'`: PostgreSQL's regex engine took about 15 µs
        // a name with the bounded repeat, as long as reading the page.
        let rows: Vec<(String, String, String, bool)> = sqlx::query_as(concat!(
            "SELECT account, container, name, (",
            stale_chunk!(),
            "   AND octet_length(name) = 64 AND name !~ '[^0-9a-f]'
                AND NOT EXISTS (SELECT 1 FROM upload_session_chunks c
                                  JOIN upload_sessions s ON s.id = c.session_id
                                 WHERE c.chunk_id = o.name AND s.expires_at > now()))
               FROM (SELECT account, container, name, modified_us, confirmed_us,
                            dlo_manifest, slo_manifest_size, symlink
                       FROM objects
                      WHERE (account, container, name) > ($2, $3, $4)
                      ORDER BY account, container, name LIMIT $5) AS o
              ORDER BY account, container, name"
        ))
        .bind(cutoff_us)
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(as_sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        let next = (rows.len() >= limit)
            .then(|| {
                rows.last()
                    .map(|(a, c, n, _)| (a.clone(), c.clone(), n.clone()))
            })
            .flatten();
        let candidates = rows
            .into_iter()
            .filter(|(_, _, _, candidate)| *candidate)
            .map(|(a, c, n, _)| (a, c, n))
            .collect();
        Ok(CandidatePage { candidates, next })
    }

    async fn claim_chunks(
        &self,
        (account, container): (&str, &str),
        names: &[String],
        cutoff_us: i64,
    ) -> Result<Option<(i64, Vec<String>)>, IndexError> {
        let claimed: Vec<(String, i64)> = sqlx::query_as(concat!(
            "WITH fresh AS (SELECT nextval('chunk_claims') AS claim)
             INSERT INTO collected_chunks AS held (account, container, name, claim)
             SELECT o.account, o.container, o.name, fresh.claim FROM objects o, fresh
              WHERE o.account = $2 AND o.container = $3 AND",
            names_in!("o.name", "$4"),
            "AND",
            stale_chunk!(),
            " ORDER BY o.name
             ON CONFLICT (account, container, name)
             DO UPDATE SET claim = excluded.claim WHERE held.claim < excluded.claim
             RETURNING name, claim"
        ))
        .bind(cutoff_us)
        .bind(account)
        .bind(container)
        .bind(names)
        .fetch_all(&self.pool)
        .await?;
        let claim = claimed.first().map(|(_, claim)| *claim);
        Ok(claim.map(|claim| (claim, claimed.into_iter().map(|(name, _)| name).collect())))
    }

    async fn collect_chunks(
        &self,
        (account, container): (&str, &str),
        claim: i64,
        (claimed, unclaimed): (&[String], &[String]),
        cutoff_us: i64,
    ) -> Result<Vec<CollectedObject>, IndexError> {
        let mut tx = self.pool.begin().await?;
        // Locked in the order a fence locks them (objects, then rows, each in
        // name order, all before any change, so that collections and fences
        // cannot deadlock), so that a confirmation's fence comes wholly
        // before this delete (and stops it) or after it (and finds the
        // object gone).
        lock_objects(&mut tx, (account, container), claimed).await?;
        let everything: Vec<String> = claimed.iter().chain(unclaimed).cloned().collect();
        let at_claim: HashSet<String> =
            lock_collected(&mut tx, (account, container), &everything, Some(claim))
                .await?
                .into_iter()
                .collect();
        let at_claim_of = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .filter(|name| at_claim.contains(*name))
                .cloned()
                .collect()
        };
        let (held, dropped) = (at_claim_of(claimed), at_claim_of(unclaimed));
        let deleted: Vec<(String, i64, Option<String>)> = sqlx::query_as(concat!(
            "DELETE FROM objects o
              WHERE account = $2 AND container = $3 AND",
            names_in!("name", "$4"),
            "AND",
            stale_chunk!(),
            " RETURNING name, size, blob_key"
        ))
        .bind(cutoff_us)
        .bind(account)
        .bind(container)
        .bind(&held)
        .fetch_all(&mut *tx)
        .await?;
        // No server holds these under this claim: a later confirmation has
        // nothing to lift.
        sqlx::query(concat!(
            "DELETE FROM collected_chunks WHERE account = $1 AND container = $2 AND",
            names_in!("name", "$3")
        ))
        .bind(account)
        .bind(container)
        .bind(&dropped)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted
            .into_iter()
            .map(|(name, size, key)| CollectedObject {
                name,
                size: non_negative(size),
                content: content(key, None),
            })
            .collect())
    }

    async fn claim_floor(&self) -> Result<i64, IndexError> {
        Ok(sqlx::query_scalar("SELECT nextval('chunk_claims')")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn lingering_claims(
        &self,
        floor: i64,
        after: Option<(&str, &str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>, IndexError> {
        let (account, container, name) = after.unwrap_or_default();
        Ok(sqlx::query_as(
            "SELECT c.account, c.container, c.name FROM collected_chunks c
               JOIN objects o USING (account, container, name)
              WHERE (c.account, c.container, c.name) > ($2, $3, $4) AND c.claim < $1
              ORDER BY c.account, c.container, c.name LIMIT $5",
        )
        .bind(floor)
        .bind(account)
        .bind(container)
        .bind(name)
        .bind(as_sql_limit(limit))
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Locks the objects of `names` that exist, in name order (the order every
/// collection transaction takes them in, so that they cannot deadlock);
/// returns their names.
async fn lock_objects(
    tx: &mut Transaction<'_, Postgres>,
    (account, container): (&str, &str),
    names: &[String],
) -> Result<Vec<String>, IndexError> {
    Ok(sqlx::query_scalar(concat!(
        "SELECT name FROM objects WHERE account = $1 AND container = $2 AND",
        names_in!("name", "$3"),
        "ORDER BY name FOR UPDATE"
    ))
    .bind(account)
    .bind(container)
    .bind(names)
    .fetch_all(&mut **tx)
    .await?)
}

/// Locks the rows of `collected_chunks` of `names` (those at `claim` only,
/// if given), in name order, after their objects; returns their names.
async fn lock_collected(
    tx: &mut Transaction<'_, Postgres>,
    (account, container): (&str, &str),
    names: &[String],
    claim: Option<i64>,
) -> Result<Vec<String>, IndexError> {
    Ok(sqlx::query_scalar(concat!(
        "SELECT name FROM collected_chunks WHERE account = $1 AND container = $2 AND",
        names_in!("name", "$3"),
        "AND ($4::bigint IS NULL OR claim = $4) ORDER BY name FOR UPDATE"
    ))
    .bind(account)
    .bind(container)
    .bind(names)
    .bind(claim)
    .fetch_all(&mut **tx)
    .await?)
}

/// Inserts an object unless its name is taken; bound by [`bind_object`].
/// Answers an [`Insertion`]: whether it was inserted, and in the same round
/// trip whether a collection claim may hold the name, which a chunk PUT
/// otherwise asked in one more (its confirmation).
const INSERT_OBJECT: &str = "WITH inserted AS (
         INSERT INTO objects (account, container, name, blob_key, inline_data, size, etag,
                              content_type, meta, modified_us, dlo_manifest, slo_manifest_size,
                              slo_manifest_etag, delete_at, symlink)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (account, container, name) DO NOTHING
         RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM inserted) AS inserted,
            EXISTS (SELECT 1 FROM collected_chunks
                     WHERE account = $1 AND container = $2 AND name = $3) AS claim_held";

/// Binds an object's columns as `$1`–`$15`, in the order of the `objects`
/// table, to a statement that inserts or replaces it ([`INSERT_OBJECT`]).
fn bind_object<'q>(
    query: Query<'q, Postgres, PgArguments>,
    account: &'q str,
    container: &'q str,
    object: &'q ObjectRecord,
) -> Query<'q, Postgres, PgArguments> {
    let (dlo_manifest, slo_manifest_size, slo_manifest_etag) = match &object.manifest {
        Some(Manifest::Dynamic {
            container_and_prefix,
        }) => (Some(container_and_prefix.as_str()), None, None),
        Some(Manifest::Static {
            manifest_size,
            manifest_etag,
        }) => (
            None,
            Some(as_sql_size(*manifest_size)),
            manifest_etag.as_deref(),
        ),
        None => (None, None, None),
    };
    let (blob_key, inline_data) = match &object.content {
        Content::Blob(key) => (Some(key.as_str()), None),
        // Bytes a listing left out bind as NULL, which the schema refuses.
        Content::Inline(data) => (None, data.as_deref()),
    };
    query
        .bind(account)
        .bind(container)
        .bind(&object.name)
        .bind(blob_key)
        .bind(inline_data)
        .bind(as_sql_size(object.size))
        .bind(&object.etag)
        .bind(&object.content_type)
        .bind(Json(&object.meta))
        .bind(object.modified.as_micros())
        .bind(dlo_manifest)
        .bind(slo_manifest_size)
        .bind(slo_manifest_etag)
        .bind(object.delete_at.map(as_sql_size))
        .bind(object.symlink.as_ref().map(Json))
}
