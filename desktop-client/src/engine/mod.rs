//! The sync engine, Dropbox-Nucleus style.
//!
//! Three trees per workspace ([`tree::Trees`]): *remote* (what the server
//! says), *local* (what was last observed on disk) and *synced* (the last
//! state both agreed on, the merge base), all keyed by stable item id. The
//! [`planner`] is a pure function of them; [`Engine`] observes both sides,
//! executes planned batches through the [`Fs`] and [`Remote`] traits, and
//! persists the trees through a [`StateStore`] so that a crash at any point
//! resumes without loss or duplicate uploads.

pub mod handoff;
pub mod names;
pub mod observe;
pub mod planner;
pub mod siblings;
pub mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use nimbus_protocol::rpc::{
    ChunkPlace, CommitItem, CommitReply, Content, ItemOutcome, MAX_COMMIT_ITEMS, RefusalCode,
    Revision,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;
use crate::fs::{Expect, Fs, FsError, Scan, Stat};
use crate::remote::{Clock, Remote, RemoteError};
pub use handoff::Handoff;
pub use planner::{CaseClash, Op, PlanContext, Upload, plan};
pub use siblings::{Sibling, SiblingGroup};
pub use tree::{ItemId, Node, Tree, Trees};

/// A commit sent but not yet answered, kept so that a restart re-sends it
/// under the same request id (the server answers it once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCommit {
    pub request_id: Uuid,
    pub items: Vec<CommitItem>,
}

/// Where the engine's state survives restarts.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Writes the nodes changed since the last save, and the cursor.
    async fn save(&self, trees: &mut Trees, cursor: Revision) -> Result<(), Error>;
    async fn set_pending(&self, pending: Option<&PendingCommit>) -> Result<(), Error>;
    /// Records the hand-offs not yet taken by their mounts; written before
    /// the trees they left, so that a crash between the two writes finds
    /// the folder in the trees, fetches its deletion again and hands it
    /// off again, never neither.
    async fn set_handoffs(&self, handoffs: &[Handoff]) -> Result<(), Error>;
    /// Records a status line (last sync, errors) for `nimbus status`.
    async fn set_status(&self, key: &str, value: &str) -> Result<(), Error>;
}

/// What the engine has done, for logs, status and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub commits: u64,
    pub items_committed: u64,
    pub files_uploaded: u64,
    pub files_downloaded: u64,
    pub conflicts: u64,
    pub refusals: u64,
    pub passes: u64,
}

/// Items per commit by default. Smaller batches let other devices start
/// fetching sooner; each costs a round trip and a transaction on the server.
pub const COMMIT_BATCH: usize = 1_000;

/// Most batches in one round before the engine gives up until the next one
/// (a safety net against livelock; the simulation asserts it is never hit).
pub const MAX_PASSES: usize = 500;

/// The wait before a failed download is tried again, after its first
/// failure; it doubles with each further failure, up to [`DOWNLOAD_RETRY_MAX`].
pub const DOWNLOAD_RETRY_FIRST: Duration = Duration::from_secs(1);
pub const DOWNLOAD_RETRY_MAX: Duration = Duration::from_secs(300);

/// The wait after the `failures`th failure of a download in a row.
pub fn download_retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    DOWNLOAD_RETRY_FIRST
        .saturating_mul(1 << doublings)
        .min(DOWNLOAD_RETRY_MAX)
}

/// A download whose data was missing or corrupt, or that did not fit on
/// the disk, waiting to be tried again. Other items go on meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedDownload {
    /// Where the file goes.
    pub path: String,
    /// The remote version that failed: a newer one is tried at once.
    pub version: u64,
    /// Failures in a row.
    pub failures: u32,
    /// Not tried again before this time (ms since the epoch).
    pub retry_at_ms: i64,
    pub reason: String,
}

/// Filter for paths that are not synced.
pub type Ignore = Arc<dyn Fn(&str, bool) -> bool + Send + Sync>;

pub struct Engine<F: Fs, R: Remote> {
    pub fs: F,
    pub remote: R,
    pub store: Box<dyn StateStore>,
    pub clock: Arc<dyn Clock>,
    pub device: String,
    pub ignore: Ignore,
    pub trees: Trees,
    pub cursor: Revision,
    pub pending: Option<PendingCommit>,
    pub stats: Stats,
    /// Items refused for good, with the server's reason.
    pub stuck: BTreeMap<ItemId, String>,
    /// Downloads that failed, each backing off on its own.
    pub failed_downloads: BTreeMap<ItemId, FailedDownload>,
    /// Items whose content the object store lacks, for the daemon to report
    /// (`reportMissingContent`) so that a device that has it uploads it again.
    pub missing_content: BTreeSet<ItemId>,
    /// Nothing is committed (a viewer's mount): local changes stay local,
    /// and the planner's conflicted copies keep them when the server's
    /// version comes down.
    pub read_only: bool,
    /// The other engines of this sync folder (its own workspace's and its
    /// mounts'), whose new files this one's deletions wait for.
    pub siblings: Option<Sibling>,
    /// Folders converted into workspaces of their own, handed off and not
    /// yet taken by their mounts: left alone on disk, never synced here.
    pub handoffs: Vec<Handoff>,
    refusals: BTreeMap<ItemId, u32>,
    /// Something on disk differed from what was planned on: scan again.
    pub need_scan: bool,
    /// Paths the file watcher saw change (relative): scanned before the
    /// next plan, unless [`Engine::need_scan`] asks for everything (as it
    /// must when the ignore rules change).
    pub scan_hints: BTreeSet<String>,
    /// The server refused or conflicted: fetch changes again.
    pub need_fetch: bool,
    /// How many uploads run at once.
    pub upload_concurrency: usize,
    /// How many downloads run at once.
    pub download_concurrency: usize,
    /// Most items in one commit ([`COMMIT_BATCH`]).
    pub commit_batch: usize,
    /// The case clashes last logged.
    case_clashes_reported: Vec<CaseClash>,
}

/// A download's target, computed before its bytes are fetched.
struct PreparedDownload {
    r: Node,
    parent: Option<ItemId>,
    name: String,
    path: String,
    expect: Expect,
}

/// One round's outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub ops: usize,
    pub passes: usize,
    /// The round ended with nothing left to do.
    pub quiet: bool,
}

impl<F: Fs, R: Remote> Engine<F, R> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        fs: F,
        remote: R,
        store: Box<dyn StateStore>,
        clock: Arc<dyn Clock>,
        device: String,
        ignore: Ignore,
        trees: Trees,
        cursor: Revision,
        pending: Option<PendingCommit>,
    ) -> Self {
        Self {
            fs,
            remote,
            store,
            clock,
            device,
            ignore,
            trees,
            cursor,
            pending,
            stats: Stats::default(),
            stuck: BTreeMap::new(),
            failed_downloads: BTreeMap::new(),
            missing_content: BTreeSet::new(),
            read_only: false,
            siblings: None,
            handoffs: Vec::new(),
            refusals: BTreeMap::new(),
            need_scan: true,
            scan_hints: BTreeSet::new(),
            need_fetch: true,
            upload_concurrency: 4,
            download_concurrency: 4,
            commit_batch: COMMIT_BATCH,
            case_clashes_reported: Vec::new(),
        }
    }

    pub async fn save(&mut self) -> Result<(), Error> {
        self.store.save(&mut self.trees, self.cursor).await
    }

    /// Scans the disk into the local tree. Returns whether anything changed.
    pub async fn observe_local(&mut self) -> Result<bool, Error> {
        let stamp = self.siblings.as_ref().map(Sibling::scan_started);
        let ignore = self.ignored();
        let scan = self.fs.scan(&*ignore)?;
        self.scan_hints.clear();
        self.need_scan = false;
        let changed = self.fold_scan(&scan, observe::Scope::Everything).await?;
        self.scan_done(stamp, true, changed);
        Ok(changed)
    }

    /// Tells the other engines of this sync folder about a scan.
    fn scan_done(&self, stamp: Option<u64>, whole: bool, changed: bool) {
        if let (Some(siblings), Some(stamp)) = (&self.siblings, stamp) {
            siblings.scan_done(stamp, whole, changed);
        }
    }

    /// Scans the paths of [`Engine::scan_hints`] into the local tree (a
    /// path whose folder is not known yet: that folder). A folder new here
    /// is scanned to the bottom; a known one stands for itself, as its
    /// contents have hints of their own. Returns whether anything changed.
    pub async fn observe_hinted(&mut self) -> Result<bool, Error> {
        let stamp = self.siblings.as_ref().map(Sibling::scan_started);
        let hints = std::mem::take(&mut self.scan_hints);
        let local = &self.trees.local;
        let known_folder = |path: &str| {
            local
                .id_at(path)
                .and_then(|id| local.get(&id))
                .is_some_and(|n| n.is_folder)
        };
        let mut paths: BTreeSet<String> = BTreeSet::new();
        for mut path in hints {
            while let Some(i) = path.rfind('/') {
                if known_folder(&path[..i]) {
                    break;
                }
                path.truncate(i);
            }
            paths.insert(path);
        }
        let ignore = self.ignored();
        let mut scan = Scan::default();
        let mut scope = Vec::new();
        for path in paths {
            let beneath = match self.fs.stat(&path) {
                Ok(Some(stat)) if stat.is_folder => local
                    .by_inode(stat.inode)
                    .and_then(|id| local.get(&id))
                    .is_none_or(|n| !n.is_folder),
                _ => false,
            };
            let found = self.fs.scan_at(&path, beneath, &*ignore)?;
            scan.entries.extend(found.entries);
            scan.unreadable.extend(found.unreadable);
            scan.skipped.extend(found.skipped);
            scope.push((path, beneath));
        }
        // Parents first, each path once.
        scan.entries.sort_by(|a, b| {
            (a.path.matches('/').count(), &a.path).cmp(&(b.path.matches('/').count(), &b.path))
        });
        scan.entries.dedup_by(|a, b| a.path == b.path);
        let changed = self.fold_scan(&scan, observe::Scope::Paths(&scope)).await?;
        self.scan_done(stamp, false, changed);
        Ok(changed)
    }

    /// Folds a scan of `scope` into the local tree and saves it if it changed.
    async fn fold_scan(&mut self, scan: &Scan, scope: observe::Scope<'_>) -> Result<bool, Error> {
        let fs = &self.fs;
        let remote = &self.remote;
        let clock = self.clock.clone();
        let changed = observe::reconcile(
            &mut self.trees.local,
            scan,
            scope,
            &mut |path| match fs.open(path) {
                Ok(mut reader) => {
                    remote
                        .hash_content(&mut reader)
                        .map(Some)
                        .map_err(|e| FsError::Io {
                            path: path.to_owned(),
                            source: e,
                        })
                }
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            },
            &mut || clock.new_id(),
            &mut |path, inode| {
                fs.stat(path)
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.inode == inode)
            },
        );
        for (path, why) in &scan.skipped {
            tracing::debug!(%path, %why, "not synced");
        }
        if changed {
            self.stuck.clear();
            self.save().await?;
        }
        Ok(changed)
    }

    /// What is not synced: the ignore rules and the folders handed off.
    fn ignored(&self) -> Ignore {
        if self.handoffs.is_empty() {
            return self.ignore.clone();
        }
        let rules = self.ignore.clone();
        let handoffs = self.handoffs.clone();
        Arc::new(move |path: &str, is_folder: bool| {
            handoffs.iter().any(|h| h.covers(path)) || rules(path, is_folder)
        })
    }

    /// Fetches the delta since the cursor into the remote tree. A folder
    /// deleted with `moved_to` is handed off ([`handoff`]), not deleted.
    pub async fn fetch_remote(&mut self) -> Result<bool, Error> {
        let (items, revision) = self.remote.changes(self.cursor).await?;
        let changed = !items.is_empty() || revision != self.cursor;
        let mut handed_off = false;
        for item in &items {
            if item.deleted {
                if let Some(workspace_id) = item.moved_to {
                    handed_off = true;
                    if let Some(handoff) = handoff::take(&mut self.trees, item.id, workspace_id) {
                        tracing::info!(
                            folder = %handoff.path,
                            %workspace_id,
                            "a folder became a workspace of its own; its mount syncs it from now on"
                        );
                        self.handoffs.retain(|h| h.workspace_id != workspace_id);
                        self.handoffs.push(handoff);
                    }
                }
                self.trees.remote.remove(&item.id);
            } else {
                let node = Node::from_item(item);
                self.follow_rekeying(&node);
                self.trees.remote.insert(node);
            }
        }
        if handed_off {
            self.store.set_handoffs(&self.handoffs).await?;
        }
        self.cursor = revision;
        self.need_fetch = false;
        self.forget_outdated_failures();
        if changed {
            self.stuck.clear();
            self.save().await?;
        }
        Ok(changed)
    }

    /// A version's content described anew without a new version: its
    /// chunks were re-keyed into this workspace (or are found under
    /// another workspace's keys). The bytes are the same, so the synced
    /// node takes the new description, and so does the local one when it
    /// held those bytes (its hash, made under the old keys, becomes the new
    /// one without reading the file): not an edit, nothing to transfer. A
    /// local copy that differs stays a local change.
    fn follow_rekeying(&mut self, r: &Node) {
        let Some(s) = self.trees.synced.get(&r.id) else {
            return;
        };
        if r.is_folder
            || s.version != r.version
            || (s.hash == r.hash
                && s.chunks == r.chunks
                && s.chunker == r.chunker
                && s.chunk_workspace == r.chunk_workspace)
        {
            return;
        }
        let mut s = s.clone();
        if let Some(l) = self.trees.local.get(&r.id)
            && l.same_content(&s)
        {
            let mut l = l.clone();
            l.hash = r.hash.clone();
            self.trees.local.insert(l);
        }
        s.hash = r.hash.clone();
        s.chunks = r.chunks.clone();
        s.chunker = r.chunker.clone();
        s.chunk_workspace = r.chunk_workspace.clone();
        self.trees.synced.insert(s);
    }

    /// The mount of a handed-off folder has taken its nodes: stop
    /// ignoring its place here (the mount records now hide it).
    pub async fn handoff_taken(&mut self, workspace_id: Uuid) -> Result<(), Error> {
        self.handoffs.retain(|h| h.workspace_id != workspace_id);
        self.store.set_handoffs(&self.handoffs).await
    }

    /// Re-sends a commit a crash interrupted. A read-only engine drops it
    /// instead: it was sent before the member became a viewer, and the
    /// server would refuse it on every round, which would block the mount
    /// for good. Its changes were never applied to the synced tree, so they
    /// stay on disk as a viewer's local edits.
    pub async fn resume_pending(&mut self) -> Result<(), Error> {
        if self.read_only && self.pending.is_some() {
            tracing::info!("a viewer's folder does not re-send a commit; the changes stay here");
            self.pending = None;
            self.store.set_pending(None).await?;
            return Ok(());
        }
        if let Some(pending) = self.pending.clone() {
            tracing::info!(
                items = pending.items.len(),
                "re-sending an interrupted commit"
            );
            let reply = self
                .remote
                .commit(pending.request_id, pending.items.clone())
                .await;
            self.settle_commit(&pending, reply).await?;
        }
        Ok(())
    }

    /// Applies the server's answer to the commit in flight, which is then
    /// no longer pending, and saves the trees. A commit refused because
    /// chunks it lists were collected wrote nothing and would be refused
    /// again: it is dropped, so that the next pass uploads its files again
    /// and commits them anew. Other failures keep it pending.
    async fn settle_commit(
        &mut self,
        pending: &PendingCommit,
        reply: Result<CommitReply, RemoteError>,
    ) -> Result<(), Error> {
        let reply = match reply {
            Ok(reply) => reply,
            Err(error @ RemoteError::ChunksCollected(_)) => {
                self.pending = None;
                self.store.set_pending(None).await?;
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        self.apply_commit_reply(
            &pending.items,
            reply.revision,
            reply.results.into_iter().map(|r| r.outcome),
        );
        self.pending = None;
        self.store.set_pending(None).await?;
        self.save().await
    }

    /// The next batch, without executing it.
    pub fn plan(&self) -> Vec<Op> {
        let mut ops = self.with_plan_context(|ctx| plan(&self.trees, ctx));
        if self.read_only {
            ops.retain(|op| !matches!(op, Op::Commit(_)));
        }
        if let Some(siblings) = &self.siblings {
            siblings.hold_deletions(!self.read_only && self.has_unsent_files(), &mut ops);
        }
        ops
    }

    /// Whether a file on disk is new or changed and not committed yet
    /// (those refused for good aside: they would hold deletions forever).
    fn has_unsent_files(&self) -> bool {
        let trees = &self.trees;
        trees.unsettled().iter().any(|id| {
            trees.local.get(id).is_some_and(|local| {
                !local.is_folder
                    && !self.stuck.contains_key(id)
                    && trees
                        .synced
                        .get(id)
                        .is_none_or(|synced| !synced.same_content(local))
            })
        })
    }

    /// Remote items this case-insensitive folder cannot hold.
    pub fn case_clashes(&self) -> Vec<CaseClash> {
        self.with_plan_context(|ctx| planner::case_clashes(&self.trees, ctx))
    }

    fn with_plan_context<T>(&self, f: impl FnOnce(&PlanContext<'_>) -> T) -> T {
        let now_ms = self.clock.now_ms();
        let backing_off = self
            .failed_downloads
            .iter()
            .filter(|(_, failed)| failed.retry_at_ms > now_ms)
            .map(|(id, _)| id);
        let stuck: BTreeSet<ItemId> = self.stuck.keys().chain(backing_off).copied().collect();
        let ignore = self.ignored();
        let ignored = move |p: &str, f: bool| ignore(p, f);
        f(&PlanContext {
            device: &self.device,
            now_ms: self.clock.now_ms(),
            ignored: &ignored,
            stuck: &stuck,
            case_insensitive: self.fs.case_insensitive(),
        })
    }

    /// Logs the items [`Engine::case_clashes`] lists when the list changes.
    fn report_case_clashes(&mut self) {
        let clashes = self.case_clashes();
        if clashes != self.case_clashes_reported {
            for clash in &clashes {
                tracing::warn!("{clash}");
            }
            self.case_clashes_reported = clashes;
        }
    }

    /// Observes both sides as needed and executes batches until there is
    /// nothing left to do (or [`MAX_PASSES`]).
    pub async fn sync_round(&mut self) -> Result<Round, Error> {
        self.fs.check_root()?;
        self.resume_pending().await?;
        let mut round = Round::default();
        while round.passes < MAX_PASSES {
            if self.need_scan {
                self.observe_local().await?;
            } else if !self.scan_hints.is_empty() {
                self.observe_hinted().await?;
            }
            if self.need_fetch {
                self.fetch_remote().await?;
            }
            self.trees.settle();
            let ops = self.plan();
            if ops.is_empty() {
                round.quiet = !self.need_scan && self.scan_hints.is_empty() && !self.need_fetch;
                if round.quiet {
                    break;
                }
                continue;
            }
            round.passes += 1;
            round.ops += ops.len();
            self.stats.passes += 1;
            self.execute(ops).await?;
            self.save().await?;
        }
        if round.quiet {
            self.report_case_clashes();
            self.store
                .set_status("last_sync_ms", &self.clock.now_ms().to_string())
                .await?;
            let failed: Vec<&FailedDownload> = self.failed_downloads.values().collect();
            let failed = serde_json::to_string(&failed).expect("failed downloads always encode");
            self.store.set_status("failed_downloads", &failed).await?;
        }
        Ok(round)
    }

    /// When the next failed download is due to be tried again (ms since
    /// the epoch), if any is waiting.
    pub fn next_download_retry_ms(&self) -> Option<i64> {
        self.failed_downloads.values().map(|f| f.retry_at_ms).min()
    }

    /// Forgets the failed downloads whose item changed or went on the
    /// server: the new version is tried at once.
    fn forget_outdated_failures(&mut self) {
        let remote = &self.trees.remote;
        self.failed_downloads
            .retain(|id, failed| remote.get(id).is_some_and(|r| r.version == failed.version));
    }

    /// Backs off the download of `id` (at `version`) after `error`.
    fn download_failed(&mut self, id: ItemId, version: u64, error: &Error) {
        let failures = self
            .failed_downloads
            .get(&id)
            .filter(|f| f.version == version)
            .map_or(0, |f| f.failures)
            + 1;
        let wait = download_retry_delay(failures);
        let path = self
            .trees
            .remote
            .path(&id)
            .unwrap_or_else(|| id.to_string());
        tracing::warn!(%path, %error, failures, retry_in = ?wait, "download failed");
        // Chunks still under another workspace's keys are not lost: they
        // arrive when re-keyed, which no device's upload would speed up.
        if matches!(error, Error::Remote(RemoteError::ContentMissing(_)))
            && self
                .trees
                .remote
                .get(&id)
                .is_some_and(|r| r.chunk_workspace.is_none())
        {
            self.missing_content.insert(id);
        }
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        self.failed_downloads.insert(
            id,
            FailedDownload {
                path,
                version,
                failures,
                retry_at_ms: self.clock.now_ms().saturating_add(wait_ms),
                reason: error.to_string(),
            },
        );
    }

    /// The path and content of item `id` when this device's copy of it is
    /// the server's latest version (same content hash as last scanned):
    /// what a device needs to upload that version's chunks again.
    pub fn local_copy_of_latest(&self, id: ItemId) -> Option<(String, Content)> {
        // Chunks under another workspace's keys cannot be made again here.
        let remote = self
            .trees
            .remote
            .get(&id)
            .filter(|r| !r.is_folder && r.chunk_workspace.is_none())?;
        let local = self.trees.local.get(&id)?;
        if remote.hash.is_none() || local.hash != remote.hash {
            return None;
        }
        Some((self.trees.local.path(&id)?, remote.content()))
    }

    /// Executes one planned batch.
    pub async fn execute(&mut self, ops: Vec<Op>) -> Result<(), Error> {
        let mut ops = ops.into_iter().peekable();
        let mut done = 0usize;
        while let Some(op) = ops.next() {
            let results = match op {
                // Consecutive downloads run several at a time (their
                // parents were created by earlier operations).
                Op::Download { id } => {
                    let mut ids = vec![id];
                    while ids.len() < 256 {
                        match ops.peek() {
                            Some(Op::Download { id }) => {
                                ids.push(*id);
                                ops.next();
                            }
                            _ => break,
                        }
                    }
                    self.download_many(ids).await
                }
                op => vec![self.execute_one(op).await],
            };
            for result in results {
                self.absorb(result)?;
                done += 1;
                if done.is_multiple_of(256) {
                    self.save().await?;
                }
            }
        }
        Ok(())
    }

    /// Turns an operation's failure into "look again" where that is the
    /// remedy; other errors end the batch.
    fn absorb(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        match result {
            Ok(()) => {}
            Err(Error::Fs(FsError::Changed(path))) => {
                tracing::debug!(%path, "changed under us; rescanning");
                self.need_scan = true;
            }
            Err(Error::Fs(FsError::Io { path, source })) => {
                tracing::warn!(%path, error = %source, "file operation failed; will retry");
                self.need_scan = true;
            }
            // Logged and backed off per file by `download_failed`.
            Err(Error::Remote(RemoteError::Corrupt(_) | RemoteError::ContentMissing(_))) => {
                self.need_fetch = true;
            }
            Err(Error::Fs(FsError::DiskFull(_))) => {}
            Err(other) => return Err(other),
        }
        Ok(())
    }

    fn local_stat(&self, id: &ItemId) -> Option<Stat> {
        self.trees.local.get(id).map(|l| Stat {
            is_folder: l.is_folder,
            size: l.size,
            mtime: l.mtime,
            inode: l.inode,
        })
    }

    fn local_path(&self, id: &ItemId) -> Result<String, Error> {
        self.trees
            .local
            .path(id)
            .ok_or_else(|| FsError::Changed(format!("item {id}")).into())
    }

    async fn execute_one(&mut self, op: Op) -> Result<(), Error> {
        tracing::debug!(?op, "executing");
        match op {
            Op::Commit(uploads) => self.commit(uploads).await?,
            Op::Download { id } => {
                let mut results = self.download_many(vec![id]).await;
                results.pop().expect("one result")?;
            }
            Op::MakeFolder { id } => {
                let r = self.remote_node(&id)?;
                let path = self
                    .trees
                    .local
                    .path_at(r.parent, &r.name)
                    .ok_or_else(|| FsError::Changed(r.name.clone()))?;
                let stat = self.fs.mkdir(&path)?;
                self.trees
                    .local
                    .insert(local_node(&r, r.parent, &r.name, stat));
                self.trees.synced.insert(r);
            }
            Op::LocalMove { id, parent, name } => {
                let from = self.local_path(&id)?;
                let to = self
                    .trees
                    .local
                    .path_at(parent, &name)
                    .ok_or_else(|| FsError::Changed(name.clone()))?;
                let expect = Expect::Unchanged(self.local_stat(&id).expect("local item"));
                let stat = self.fs.rename(&from, &to, expect)?;
                let mut node = self.trees.local.get(&id).expect("local item").clone();
                node.parent = parent;
                node.name = name;
                node.mtime = if node.is_folder {
                    node.mtime
                } else {
                    stat.mtime
                };
                node.inode = stat.inode;
                self.trees.local.insert(node);
            }
            Op::LocalDelete { id } => {
                let path = self.local_path(&id)?;
                let stat = self.local_stat(&id).expect("local item");
                if stat.is_folder {
                    if let Err(FsError::NotEmpty(path)) = self.fs.remove_dir(&path) {
                        // Unsynced files (ignored, or new) are inside: keep
                        // the folder as a new item rather than lose them.
                        tracing::info!(%path, "kept a folder deleted elsewhere: it holds unsynced files");
                        let new_id = self.clock.new_id();
                        self.trees.local.rekey(id, new_id);
                        self.trees.synced.remove(&id);
                        self.need_scan = true;
                        return Ok(());
                    }
                } else {
                    self.fs.remove_file(&path, Expect::Unchanged(stat))?;
                }
                self.trees.local.remove(&id);
                self.trees.synced.remove(&id);
            }
            Op::ConflictCopy { id, name } => {
                let from = self.local_path(&id)?;
                let mut node = self.trees.local.get(&id).expect("local item").clone();
                let to = self
                    .trees
                    .local
                    .path_at(node.parent, &name)
                    .ok_or_else(|| FsError::Changed(name.clone()))?;
                let expect = Expect::Unchanged(self.local_stat(&id).expect("local item"));
                let stat = self.fs.rename(&from, &to, expect)?;
                let new_id = self.clock.new_id();
                self.trees.local.rekey(id, new_id);
                node.id = new_id;
                node.name = name;
                node.inode = stat.inode;
                if !node.is_folder {
                    node.mtime = stat.mtime;
                }
                self.trees.local.insert(node);
                self.trees.synced.remove(&id);
                self.stats.conflicts += 1;
                tracing::info!(path = %from, copy = %to, "conflict: kept the local version as a conflicted copy");
            }
            Op::Reid { id } => {
                let new_id = self.clock.new_id();
                self.trees.local.rekey(id, new_id);
                self.trees.synced.remove(&id);
                tracing::info!(%id, "kept local changes to an item deleted on the server");
            }
            Op::Adopt { local, remote } => self.trees.local.rekey(local, remote),
            Op::MarkSynced { id } => {
                let r = self.remote_node(&id)?;
                self.trees.synced.insert(r);
            }
            Op::Forget { id } => {
                self.trees.synced.remove(&id);
            }
        }
        Ok(())
    }

    fn remote_node(&self, id: &ItemId) -> Result<Node, Error> {
        self.trees
            .remote
            .get(id)
            .cloned()
            .ok_or_else(|| FsError::Changed(format!("remote item {id}")).into())
    }

    /// Where a download goes and what must be there.
    fn prepare_download(&self, id: ItemId) -> Result<PreparedDownload, Error> {
        let r = self.remote_node(&id)?;
        let (parent, name, path, expect) = match self.trees.local.get(&id) {
            Some(l) => (
                l.parent,
                l.name.clone(),
                self.local_path(&id)?,
                Expect::Unchanged(self.local_stat(&id).expect("local item")),
            ),
            None => (
                r.parent,
                r.name.clone(),
                self.trees
                    .local
                    .path_at(r.parent, &r.name)
                    .ok_or_else(|| FsError::Changed(r.name.clone()))?,
                Expect::Absent,
            ),
        };
        Ok(PreparedDownload {
            r,
            parent,
            name,
            path,
            expect,
        })
    }

    /// Downloads files into temporary files, [`Engine::download_concurrency`]
    /// at a time, then renames each into place (in order, each checked
    /// against what it replaces). One result per id.
    async fn download_many(&mut self, ids: Vec<ItemId>) -> Vec<Result<(), Error>> {
        let mut results = Vec::new();
        let mut prepared = Vec::new();
        for id in ids {
            match self.prepare_download(id) {
                Ok(p) => prepared.push(p),
                Err(error) => results.push(Err(error)),
            }
        }
        let fs = &self.fs;
        let remote = &self.remote;
        let fetched: Vec<(PreparedDownload, Result<String, Error>)> =
            futures::stream::iter(prepared.into_iter().map(|p| async move {
                let result = async {
                    let (temp, writer) = fs.create_temp()?;
                    match remote
                        .download(&p.r.content(), p.r.chunk_workspace.as_ref(), writer)
                        .await
                    {
                        Ok(()) => Ok(temp),
                        Err(error) => {
                            fs.discard_temp(&temp);
                            Err(Error::from(error))
                        }
                    }
                }
                .await;
                (p, result)
            }))
            .buffered(self.download_concurrency.max(1))
            .collect()
            .await;
        for (p, fetched) in fetched {
            let (id, version, path) = (p.r.id, p.r.version, p.path.clone());
            let result = match fetched {
                Ok(temp) => self.finish_download(p, &temp),
                Err(error) => Err(error),
            }
            // The temporary file is gone and the file in place untouched:
            // the download waits for space like any failed one.
            .map_err(|error| {
                if error.is_disk_full() {
                    Error::Fs(FsError::DiskFull(path))
                } else {
                    error
                }
            });
            match &result {
                Ok(()) => {
                    self.failed_downloads.remove(&id);
                }
                Err(
                    error @ (Error::Fs(FsError::DiskFull(_))
                    | Error::Remote(
                        RemoteError::Corrupt(_) | RemoteError::ContentMissing(_),
                    )),
                ) => self.download_failed(id, version, error),
                Err(_) => {}
            }
            results.push(result);
        }
        results
    }

    fn finish_download(&mut self, p: PreparedDownload, temp: &str) -> Result<(), Error> {
        let stat = match self.fs.commit_temp(temp, &p.path, p.expect) {
            Ok(stat) => stat,
            Err(error) => {
                self.fs.discard_temp(temp);
                return Err(error.into());
            }
        };
        self.trees
            .local
            .insert(local_node(&p.r, p.parent, &p.name, stat));
        self.trees.synced.insert(p.r);
        self.stats.files_downloaded += 1;
        Ok(())
    }

    /// Uploads the changed contents of `uploads` and commits them in
    /// batches of [`Engine::commit_batch`] items, in plan order. While one batch is
    /// committed the next one's contents go up, and other devices can
    /// fetch the first files while the last ones are still being read.
    async fn commit(&mut self, uploads: Vec<Upload>) -> Result<(), Error> {
        let concurrency = self.upload_concurrency;
        // The server refuses commits of more than MAX_COMMIT_ITEMS items.
        let mut batches = uploads.chunks(self.commit_batch.clamp(1, MAX_COMMIT_ITEMS));
        let Some(mut batch) = batches.next() else {
            return Ok(());
        };
        let mut uploaded =
            upload_contents(&self.fs, &self.remote, self.reads(batch)?, concurrency).await;
        // Items whose parent could not go up wait for the next pass.
        let mut skipped: BTreeSet<ItemId> = BTreeSet::new();
        loop {
            let contents = self.take_uploaded(uploaded)?;
            let items = self.commit_items(batch, contents, &mut skipped);
            let next = batches.next();
            let next_reads = match next {
                Some(next) => self.reads(next)?,
                None => Vec::new(),
            };
            let next_upload = upload_contents(&self.fs, &self.remote, next_reads, concurrency);
            uploaded = if items.is_empty() {
                next_upload.await
            } else {
                let pending = PendingCommit {
                    request_id: self.clock.new_id(),
                    items,
                };
                self.store.set_pending(Some(&pending)).await?;
                self.pending = Some(pending.clone());
                let (reply, uploaded) = futures::future::join(
                    self.remote
                        .commit(pending.request_id, pending.items.clone()),
                    next_upload,
                )
                .await;
                self.settle_commit(&pending, reply).await?;
                uploaded
            };
            match next {
                Some(next) => batch = next,
                None => return Ok(()),
            }
        }
    }

    /// The files of `uploads` whose bytes must go up, with the stat they
    /// were observed with.
    fn reads(&self, uploads: &[Upload]) -> Result<Vec<ContentRead>, Error> {
        uploads
            .iter()
            .filter(|u| u.content_changed && !u.deleted)
            .map(|u| {
                let stat = self.local_stat(&u.id).expect("local item");
                Ok((u.id, self.local_path(&u.id)?, stat))
            })
            .collect()
    }

    /// The uploaded contents by item. A file that changed or could not be
    /// read is left out and asks for a rescan; other errors end the commit.
    fn take_uploaded(
        &mut self,
        uploaded: Vec<(ItemId, Result<Content, Error>)>,
    ) -> Result<BTreeMap<ItemId, Content>, Error> {
        let mut contents = BTreeMap::new();
        for (id, result) in uploaded {
            match result {
                Ok(content) => {
                    contents.insert(id, content);
                }
                Err(Error::Fs(FsError::Changed(path))) => {
                    tracing::debug!(%path, "changed while uploading; rescanning");
                    self.need_scan = true;
                }
                Err(Error::Fs(error)) if !matches!(error, FsError::RootMissing(_)) => {
                    tracing::warn!(%error, "cannot read a file to upload; will retry");
                    self.need_scan = true;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(contents)
    }

    /// The commit items of `uploads`, leaving out (and adding to `skipped`)
    /// those whose content or parent could not go up.
    fn commit_items(
        &mut self,
        uploads: &[Upload],
        mut contents: BTreeMap<ItemId, Content>,
        skipped: &mut BTreeSet<ItemId>,
    ) -> Vec<CommitItem> {
        let now = self.clock.now_ms();
        let mut items = Vec::new();
        for u in uploads {
            if u.parent.is_some_and(|p| skipped.contains(&p)) {
                skipped.insert(u.id);
                continue;
            }
            let content = if u.deleted || u.is_folder {
                Content::default()
            } else if u.content_changed {
                match contents.remove(&u.id) {
                    Some(content) => content,
                    None => {
                        skipped.insert(u.id);
                        continue;
                    }
                }
            } else {
                match self.trees.remote.get(&u.id) {
                    Some(r) => r.content(),
                    None => {
                        skipped.insert(u.id);
                        continue;
                    }
                }
            };
            if u.content_changed
                && let Some(l) = self.trees.local.get(&u.id)
                && (l.hash != content.content_hash || l.size != content.size)
            {
                // What was read is what is on disk now.
                let mut l = l.clone();
                l.hash = content.content_hash.clone();
                l.size = content.size;
                self.trees.local.insert(l);
            }
            items.push(CommitItem {
                id: u.id,
                base_version: u.base_version,
                parent_id: u.parent,
                name: u.name.clone(),
                is_folder: u.is_folder,
                deleted: u.deleted,
                modified_at: now,
                content,
            });
        }
        items
    }

    /// Where the chunks of a committed item are: a content committed as
    /// the server had it (a move or rename) stays where it was, maybe
    /// under another workspace's keys; new content is this workspace's.
    fn kept_chunk_workspace(&self, item: &CommitItem) -> Option<ChunkPlace> {
        self.trees
            .remote
            .get(&item.id)
            .filter(|r| r.hash == item.content.content_hash && r.chunks == item.content.chunks)
            .and_then(|r| r.chunk_workspace.clone())
    }

    /// Takes a commit's answer into the trees. When the changes cursor is
    /// already at or past the commit's revision (a reply re-sent after a
    /// fetch), the remote tree is newer than the reply and is left alone.
    /// When the commit made the very next revision after the cursor, what it
    /// changed is exactly what it committed, so the cursor moves past it and
    /// the next fetch does not bring the device's own changes back.
    fn apply_commit_reply(
        &mut self,
        items: &[CommitItem],
        revision: Revision,
        outcomes: impl Iterator<Item = ItemOutcome>,
    ) {
        self.stats.commits += 1;
        let remote_is_newer = revision <= self.cursor;
        let mut committed_any = false;
        for (item, outcome) in items.iter().zip(outcomes) {
            committed_any |= matches!(outcome, ItemOutcome::Committed { .. });
            match outcome {
                ItemOutcome::Committed { version, .. } | ItemOutcome::Unchanged { version } => {
                    self.refusals.remove(&item.id);
                    self.stats.items_committed += 1;
                    if item.deleted {
                        if !remote_is_newer {
                            self.trees.remote.remove(&item.id);
                        }
                        self.trees.synced.remove(&item.id);
                    } else {
                        if !item.is_folder {
                            self.stats.files_uploaded += 1;
                        }
                        let node = Node {
                            id: item.id,
                            parent: item.parent_id,
                            name: item.name.clone(),
                            is_folder: item.is_folder,
                            size: item.content.size,
                            hash: item.content.content_hash.clone(),
                            version,
                            mtime: item.modified_at,
                            inode: 0,
                            chunks: item.content.chunks.clone(),
                            chunker: item.content.chunker.clone(),
                            chunk_workspace: self.kept_chunk_workspace(item),
                        };
                        if !remote_is_newer {
                            self.trees.remote.insert(node.clone());
                        }
                        self.trees.synced.insert(node);
                    }
                }
                ItemOutcome::Conflict { current } => {
                    self.need_fetch = true;
                    match current {
                        Some(state) if !state.deleted => {
                            if !remote_is_newer {
                                self.trees.remote.insert(Node::from_item(&state));
                            }
                        }
                        _ => {
                            if !remote_is_newer {
                                self.trees.remote.remove(&item.id);
                            }
                            if !self.trees.synced.contains(&item.id)
                                && !self.trees.remote.contains(&item.id)
                                && self.trees.local.contains(&item.id)
                            {
                                // The id was used and deleted on the server
                                // (e.g. state lost in a crash): the local
                                // item goes up as a new one.
                                let new_id = self.clock.new_id();
                                self.trees.local.rekey(item.id, new_id);
                            }
                        }
                    }
                }
                ItemOutcome::Refused { code, message } => {
                    self.stats.refusals += 1;
                    self.need_fetch = true;
                    let count = self.refusals.entry(item.id).or_default();
                    *count += 1;
                    let transient = matches!(
                        code,
                        RefusalCode::NameTaken
                            | RefusalCode::ParentMissing
                            | RefusalCode::ParentRefused
                            | RefusalCode::FolderNotEmpty
                            | RefusalCode::MoveIntoItself
                    );
                    tracing::warn!(item = %item.name, ?code, %message, "the server refused a change");
                    if !transient || *count > 3 {
                        self.stuck
                            .insert(item.id, format!("{}: {message}", item.name));
                    }
                }
            }
        }
        if committed_any && revision == self.cursor + 1 {
            self.cursor = revision;
        }
    }
}

/// A changed file to upload: its id, its path and the stat it was observed
/// with.
type ContentRead = (ItemId, String, Stat);

/// Uploads the files of `reads`, `concurrency` at a time, results in order.
/// A file whose stat changed while it was read fails with
/// [`FsError::Changed`]: what went up may be a mix of two versions.
async fn upload_contents<F: Fs, R: Remote>(
    fs: &F,
    remote: &R,
    reads: Vec<ContentRead>,
    concurrency: usize,
) -> Vec<(ItemId, Result<Content, Error>)> {
    futures::stream::iter(reads.into_iter().map(|(id, path, stat)| async move {
        let result = async {
            fs.check_root()?;
            let reader = fs.open(&path)?;
            let content = remote.upload(reader).await?;
            if fs.stat(&path)? != Some(stat) {
                return Err(Error::Fs(FsError::Changed(path.clone())));
            }
            Ok(content)
        }
        .await;
        (id, result)
    }))
    .buffered(concurrency.max(1))
    .collect()
    .await
}

fn local_node(r: &Node, parent: Option<ItemId>, name: &str, stat: Stat) -> Node {
    Node {
        id: r.id,
        parent,
        name: name.to_owned(),
        is_folder: r.is_folder,
        size: if r.is_folder { 0 } else { stat.size },
        hash: r.hash.clone(),
        version: 0,
        mtime: if r.is_folder { 0 } else { stat.mtime },
        inode: stat.inode,
        chunks: Vec::new(),
        chunker: None,
        chunk_workspace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_downloads_wait_longer_each_time_up_to_five_minutes() {
        let waits: Vec<u64> = [1, 2, 3, 4, 9, 10, 1000]
            .into_iter()
            .map(|failures| download_retry_delay(failures).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 256, 300, 300]);
    }
}
