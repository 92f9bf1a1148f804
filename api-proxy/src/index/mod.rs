//! The object index: which accounts, containers and objects exist, with their
//! sizes, ETags, metadata and timestamps. It is the proxy's own data, kept
//! behind the [`ObjectIndex`] trait; [`postgres::PgIndex`] implements it.
//!
//! The index offers plain range scans; Swift's listing rules (delimiters,
//! markers) are applied on top of them by `swift::listing`.

mod acl_cache;
pub mod postgres;

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// User metadata: lower-case key (without the `x-*-meta-` prefix) → value.
pub type Metadata = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
#[error("object index: {0}")]
pub struct IndexError(#[from] sqlx::Error);

impl IndexError {
    /// Whether the database could not be reached or went away under the
    /// statement: a restart or failover (`57P01`–`57P03`, a lost or refused
    /// connection), a connection exception (class `08`), no connection to
    /// be had (`53300`, the pool's wait ran out). The same request succeeds
    /// once it is back, so the answer is 503, as for the metadata servers,
    /// not 500. A connection the restart killed while idle is replaced
    /// before use; one killed under a statement fails that statement.
    pub fn is_unavailable(&self) -> bool {
        match &self.0 {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(error) => error.code().is_some_and(|code| {
                code.starts_with("08") || ["57P01", "57P02", "57P03", "53300"].contains(&&*code)
            }),
            _ => false,
        }
    }
}

/// Keys to set and keys to drop, as account and container POSTs send them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    pub set: Metadata,
    pub remove: Vec<String>,
}

/// A new value for one container ACL (or its sync key): `Some(None)` clears it.
pub type AclUpdate = Option<Option<String>>;

/// What a container PUT or POST changes.
#[derive(Debug, Clone, Default)]
pub struct ContainerUpdate {
    pub meta: MetadataUpdate,
    pub read_acl: AclUpdate,
    pub write_acl: AclUpdate,
    /// `Some(None)` turns versioning off.
    pub versioning: Option<Option<Versioning>>,
    pub sync_key: AclUpdate,
}

impl ContainerUpdate {
    pub fn is_empty(&self) -> bool {
        self.meta.set.is_empty()
            && self.meta.remove.is_empty()
            && self.read_acl.is_none()
            && self.write_acl.is_none()
            && self.versioning.is_none()
            && self.sync_key.is_none()
    }
}

/// What a DELETE of a versioned object does (see `swift::versioning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersioningMode {
    /// `X-Versions-Location`: the newest archived version comes back.
    Stack,
    /// `X-History-Location`: the object is archived and a delete marker
    /// written.
    History,
}

/// Where a container keeps the older versions of its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioning {
    /// The container of the same account, as the client sent it
    /// (percent-encoded); it is decoded when used, as Swift does.
    pub location: String,
    pub mode: VersioningMode,
}

/// Where an overwritten or deleted version goes: `name` gives its name in
/// `container` (of the same account) from its own timestamp.
pub struct Archive<'a> {
    pub container: &'a str,
    pub name: &'a (dyn Fn(Timestamp) -> String + Sync),
}

#[derive(Debug, Clone, Default)]
pub struct AccountInfo {
    /// `None` until the account is first written to.
    pub created: Option<Timestamp>,
    pub meta: Metadata,
    /// Limits the installation's administrators set (see `swift::quota`):
    /// `quota-bytes`, `quota-count`, ... → decimal value.
    pub quotas: Metadata,
    /// The account ACL (`X-Account-Access-Control`) as its header shows
    /// it, `None` when there is none.
    pub access_control: Option<String>,
    pub container_count: u64,
    pub object_count: u64,
    pub bytes_used: u64,
}

/// A container's ACLs (`X-Container-Read`, `X-Container-Write`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerAcl {
    pub read: Option<String>,
    pub write: Option<String>,
}

/// What limits a write into a container: the quotas of its account and the
/// container's own metadata (where its quotas are).
#[derive(Debug, Clone, Default)]
pub struct UploadLimits {
    pub account_quotas: Metadata,
    pub container_meta: Metadata,
    /// Whether the object asked about exists (and has not expired); `false`
    /// when none was asked about.
    pub object_exists: bool,
}

#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub name: String,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub meta: Metadata,
    pub acl: ContainerAcl,
    pub object_count: u64,
    pub bytes_used: u64,
    pub versioning: Option<Versioning>,
    /// Swift's `X-Container-Sync-Key`: kept and shown to the container's
    /// administrators; Nimbus syncs nothing (no `container_sync` in `/info`).
    pub sync_key: Option<String>,
}

/// Where an object's bytes are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// In the blob store, under this key.
    Blob(String),
    /// In the index row itself, for small objects (see
    /// `Settings::inline_object_max_bytes`). [`ObjectIndex::object`] loads the
    /// bytes; listings leave them out (`None`), as a page of them could weigh
    /// hundreds of megabytes.
    Inline(Option<Bytes>),
}

impl Content {
    /// The blob behind the object, which must be deleted with it.
    pub fn blob_key(&self) -> Option<&str> {
        match self {
            Self::Blob(key) => Some(key),
            Self::Inline(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub name: String,
    pub content: Content,
    pub size: u64,
    /// MD5 of the bytes, lower-case hex.
    pub etag: String,
    pub content_type: String,
    pub meta: Metadata,
    pub modified: Timestamp,
    /// Set when the object is a large-object manifest.
    pub manifest: Option<Manifest>,
    /// Unix time (seconds) from which the object is deleted (`X-Delete-At`).
    pub delete_at: Option<u64>,
    /// Set when the object is a symlink (a zero-byte object that reads as
    /// its target, see `swift::symlink`).
    pub symlink: Option<SymlinkTarget>,
}

impl ObjectRecord {
    /// Whether the object's `delete_at` has come at `now` (Unix seconds).
    pub fn expired_at(&self, now: u64) -> bool {
        self.delete_at.is_some_and(|at| at <= now)
    }
}

/// The two kinds of Swift large objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// A DLO: the concatenation of the objects under `<container>/<prefix>`.
    /// The object's own bytes (usually none) are not served.
    Dynamic { container_and_prefix: String },
    /// An SLO: the blob holds the JSON manifest (`manifest_size` bytes, MD5
    /// `manifest_etag`, unknown for manifests of older versions) naming the
    /// segments; `size` and `etag` are those of the concatenation.
    Static {
        manifest_size: u64,
        manifest_etag: Option<String>,
    },
}

/// The object a symlink points at. Stored as JSON in the object's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymlinkTarget {
    /// The target's account: the one the client named
    /// (`X-Symlink-Target-Account`) or else the link's own.
    pub account: String,
    /// Whether the client named the account. A link that did not follows
    /// its copies into other accounts, as in Swift.
    pub account_named: bool,
    pub container: String,
    pub object: String,
    /// Set for a static link: what its target was when the link was made.
    pub pinned: Option<PinnedTarget>,
}

/// What a static link (`X-Symlink-Target-Etag`) expects of its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedTarget {
    /// The ETag the target must still have (unquoted): for an SLO, that of
    /// its manifest.
    pub etag: String,
    /// The target's size when the link was made (`X-Symlink-Target-Bytes`).
    pub bytes: u64,
    /// The quoted ETag of an SLO target's content, which listings show as
    /// the link's `slo_etag`.
    pub slo_etag: Option<String>,
}

/// What an object POST sets: everything else of the object stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectUpdate {
    pub meta: Metadata,
    pub content_type: String,
    pub delete_at: Option<u64>,
    /// `X-Object-Manifest` (`<container>/<prefix>`): a POST makes an object a
    /// DLO, changes its segments or, without it, makes it plain again. SLOs
    /// stay SLOs.
    pub dynamic_manifest: Option<String>,
}

/// One end of a range scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub name: String,
    pub inclusive: bool,
}

/// A scan over names in UTF-8 byte order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRange {
    pub prefix: String,
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
    /// Descending order.
    pub reverse: bool,
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The container does not exist; nothing was stored.
    ContainerMissing,
    /// `overwrite` was false and the object exists; nothing was stored.
    AlreadyExists,
}

/// The result of storing an object, with the blob it replaced (now unreferenced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    pub outcome: PutOutcome,
    pub replaced_blob: Option<String>,
    /// Whether the metadata servers may hold the stored object claimed for
    /// collection (it has a row of `collected_chunks`), read in the same
    /// round trip as the write: a chunk stored again must then have that
    /// claim lifted (`chunk_collection::lift_stored`). A stored object needs
    /// no other confirmation: it was written just now.
    pub claim_held: bool,
}

impl PutResult {
    /// Nothing stored (`outcome` other than [`PutOutcome::Stored`]).
    pub fn unstored(outcome: PutOutcome) -> Self {
        Self {
            outcome,
            replaced_blob: None,
            claim_held: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteContainerOutcome {
    Deleted,
    NotFound,
    NotEmpty,
}

#[async_trait]
pub trait ObjectIndex: Send + Sync {
    /// Whether the database answers a query now (`/readyz`).
    async fn ping(&self) -> Result<(), IndexError>;
    async fn account(&self, account: &str) -> Result<AccountInfo, IndexError>;
    async fn update_account(&self, account: &str, meta: &MetadataUpdate) -> Result<(), IndexError>;
    /// The account's metadata alone (no counters to aggregate).
    async fn account_meta(&self, account: &str) -> Result<Metadata, IndexError>;
    /// The account ACL, read anew on every call: a change must bind every
    /// proxy at once, so it is never cached.
    async fn account_access_control(&self, account: &str) -> Result<Option<String>, IndexError>;
    /// Sets (`Some`) or removes the account ACL.
    async fn set_account_access_control(
        &self,
        account: &str,
        access_control: Option<&str>,
    ) -> Result<(), IndexError>;
    /// Sets and removes the account's quotas.
    async fn update_account_quotas(
        &self,
        account: &str,
        quotas: &MetadataUpdate,
    ) -> Result<(), IndexError>;
    /// The quotas that bound a write into the container, or `None` when the
    /// container does not exist; with whether `object` exists, when given
    /// (a `PUT` with `If-None-Match: *` asks in the same round trip).
    async fn upload_limits(
        &self,
        account: &str,
        container: &str,
        object: Option<&str>,
    ) -> Result<Option<UploadLimits>, IndexError>;
    /// Containers with their object counts and bytes, but for those named
    /// in `hidden`.
    async fn list_containers(
        &self,
        account: &str,
        range: &ListRange,
        hidden: &[String],
    ) -> Result<Vec<ContainerInfo>, IndexError>;

    /// Creates the container unless it exists, leaving an existing one as it
    /// was (not even marked modified). Returns whether it was created.
    async fn ensure_container(&self, account: &str, container: &str) -> Result<bool, IndexError>;

    /// Creates the container, or applies `update` to it when it exists.
    /// Returns whether it was created.
    async fn put_container(
        &self,
        account: &str,
        container: &str,
        update: &ContainerUpdate,
    ) -> Result<bool, IndexError>;
    /// The container with its object count and bytes (an aggregate: use
    /// [`Self::container_acl`] where only existence and ACLs matter).
    async fn container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerInfo>, IndexError>;
    /// The container's metadata, or `None` when it does not exist.
    async fn container_meta(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<Metadata>, IndexError>;
    /// The container's ACLs, or `None` when it does not exist.
    async fn container_acl(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<ContainerAcl>, IndexError>;
    /// Returns whether the container exists.
    async fn update_container(
        &self,
        account: &str,
        container: &str,
        update: &ContainerUpdate,
    ) -> Result<bool, IndexError>;
    async fn delete_container(
        &self,
        account: &str,
        container: &str,
    ) -> Result<DeleteContainerOutcome, IndexError>;

    async fn list_objects(
        &self,
        account: &str,
        container: &str,
        range: &ListRange,
    ) -> Result<Vec<ObjectRecord>, IndexError>;
    async fn object(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<ObjectRecord>, IndexError>;
    /// Makes `object` visible, atomically replacing an older version unless
    /// `overwrite` is false.
    async fn put_object(
        &self,
        account: &str,
        container: &str,
        object: &ObjectRecord,
        overwrite: bool,
    ) -> Result<PutResult, IndexError>;
    /// The container's versioning; `None` when it has none or does not exist.
    async fn container_versioning(
        &self,
        account: &str,
        container: &str,
    ) -> Result<Option<Versioning>, IndexError>;
    /// [`Self::put_object`], which first moves the live version it replaces
    /// (if any) to `archive`, in the same transaction: the bytes are not
    /// copied, the archive takes them over. `None` when `archive.container`
    /// does not exist; nothing changed then.
    async fn put_object_archiving(
        &self,
        account: &str,
        container: &str,
        object: &ObjectRecord,
        overwrite: bool,
        archive: &Archive<'_>,
    ) -> Result<Option<PutResult>, IndexError>;
    /// A DELETE in history mode, in one transaction: moves the live object
    /// (if any) to `archive` and stores `marker` there. Returns whether the
    /// object existed, or `None` when `archive.container` does not exist
    /// (nothing changed then).
    async fn archive_deleted_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
        archive: &Archive<'_>,
        marker: &ObjectRecord,
    ) -> Result<Option<bool>, IndexError>;
    /// A DELETE in stack mode, in one transaction: removes the object `name`
    /// (if any) and moves `archived` of `versions` (same account) in its
    /// place, timestamped now. Returns where the removed object's bytes were
    /// (to discard), or `None` when `archived` no longer exists (nothing
    /// changed then).
    async fn restore_archived(
        &self,
        account: &str,
        container: &str,
        name: &str,
        versions: &str,
        archived: &str,
    ) -> Result<Option<Option<Content>>, IndexError>;
    /// Replaces an object's metadata, content type and expiry. Returns
    /// whether it exists.
    async fn update_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
        update: &ObjectUpdate,
    ) -> Result<bool, IndexError>;
    /// Removes the object and returns where its bytes were (inline bytes not
    /// loaded), or `None` if it did not exist.
    async fn delete_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Content>, IndexError>;
    /// Deletes up to `limit` objects whose `delete_at` is at or before `now`
    /// (Unix seconds), in `container` (account, container) when given, and
    /// returns where their bytes were (inline bytes not loaded).
    async fn delete_expired(
        &self,
        now: u64,
        limit: usize,
        container: Option<(&str, &str)>,
    ) -> Result<Vec<Content>, IndexError>;
    /// Removes the object whose bytes were the blob `key`, which the blob
    /// store no longer has (deleted behind the proxy's back, or lost), so
    /// that the object reads as missing and can be stored again. Returns
    /// whether an object pointed at it.
    async fn forget_lost_blob(&self, key: &str) -> Result<bool, IndexError>;
    /// Which of `keys` an object points at (the others are orphans).
    async fn referenced_blobs(&self, keys: &[String]) -> Result<HashSet<String>, IndexError>;
    /// Records that a client found object `name` stored (a `HEAD` or `PUT`
    /// of a chunk), so that collection leaves it alone for a grace period.
    /// Returns whether the metadata servers may hold it claimed for
    /// collection (a row of `collected_chunks`), for the caller to lift the
    /// claim with [`ObjectIndex::fence_collected_chunks`]; `false` also when
    /// the object does not exist.
    async fn confirm_chunk(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<bool, IndexError>;
    /// In one transaction: of `names`, those whose object exists and that
    /// the servers may hold claimed take a fresh claim number, so that no
    /// claim made before deletes them any more; returns that number, up to
    /// which the servers may then lift every claim on them, and their names.
    /// `None` when none of them needs it.
    async fn fence_collected_chunks(
        &self,
        container: (&str, &str),
        names: &[String],
    ) -> Result<Option<(i64, Vec<String>)>, IndexError>;
    /// Forgets the rows of `names` still at claim `up_to`, which the
    /// metadata servers lifted.
    async fn forget_collected_chunks(
        &self,
        container: (&str, &str),
        up_to: i64,
        names: &[String],
    ) -> Result<(), IndexError>;
    /// Makes this proxy the only one collecting chunks while the returned
    /// guard lives; `None` when another proxy holds it now. Only spares
    /// work: collections that overlap (a lock whose session dropped) are
    /// safe.
    async fn lock_collection(&self) -> Result<Option<CollectionLock>, IndexError>;
    /// The chunk objects (named by a chunk id, plain objects) neither
    /// written nor confirmed since `cutoff_us` and not part of a live upload
    /// session among the `limit` objects after `after` in (account,
    /// container, name) order, and where the next page starts.
    async fn collection_candidates(
        &self,
        cutoff_us: i64,
        after: Option<(&str, &str, &str)>,
        limit: usize,
    ) -> Result<CandidatePage, IndexError>;
    /// Takes a fresh claim number and records it beside those of `names`
    /// still neither written nor confirmed since `cutoff_us` that no later
    /// claim holds; returns the number and their names (`None`: none).
    /// Done before the metadata servers are asked, so that whatever they
    /// hold claimed has a row here.
    async fn claim_chunks(
        &self,
        container: (&str, &str),
        names: &[String],
        cutoff_us: i64,
    ) -> Result<Option<(i64, Vec<String>)>, IndexError>;
    /// In one transaction: deletes those of `claimed` (the names the
    /// servers claimed under `claim`) whose row still holds `claim` and that
    /// are still neither written nor confirmed since `cutoff_us`, returning
    /// their names, sizes and where their bytes were; and forgets the rows
    /// of `unclaimed` (the servers did not claim them) still at `claim`.
    async fn collect_chunks(
        &self,
        container: (&str, &str),
        claim: i64,
        (claimed, unclaimed): (&[String], &[String]),
        cutoff_us: i64,
    ) -> Result<Vec<CollectedObject>, IndexError>;
    /// A fresh claim number: every claim made from now on is above it.
    async fn claim_floor(&self) -> Result<i64, IndexError>;
    /// The chunks whose row holds a claim below `floor` and whose object
    /// exists (their claims deleted nothing, or they were stored again),
    /// the first `limit` after `after` in (account, container, name) order.
    async fn lingering_claims(
        &self,
        floor: i64,
        after: Option<(&str, &str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>, IndexError>;
}

/// Held while collecting; dropping it lets another proxy collect.
pub struct CollectionLock {
    /// Whatever holds the lock (a database session); never used, only dropped.
    _holder: Box<dyn Send>,
}

impl CollectionLock {
    pub(crate) fn held_by(holder: impl Send + 'static) -> Self {
        Self {
            _holder: Box::new(holder),
        }
    }
}

/// A page of [`ObjectIndex::collection_candidates`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidatePage {
    /// (account, container, name) of each candidate, in key order.
    pub candidates: Vec<(String, String, String)>,
    /// The last object read, where the next page starts; `None` at the end.
    pub next: Option<(String, String, String)>,
}

/// An object the collection deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedObject {
    pub name: String,
    pub size: u64,
    pub content: Content,
}
