//! `nimbus sync`: opening a linked folder and keeping it in sync.
//!
//! A [`Session`] is the engine of one folder with the real file system,
//! the real remote and the SQLite state. [`run`] drives it:
//!
//! * a first round scans the disk and merges with the server;
//! * file system events (notify, debounced) ask for a rescan, except mere
//!   opens and reads; an overflow (the kernel dropped events) or a watcher
//!   error asks for one too, since events are only hints, and registers the
//!   watch again, so folders created while events were lost are watched;
//! * push notifications of the workspace ask for a fetch (the server
//!   subscribes the device to all its user's workspaces; the others' are
//!   ignored); when the listener ends (broker restart, network) it subscribes
//!   again and the next round catches up from the cursor, so nothing
//!   announced meanwhile is missed;
//! * every [`SAFETY_INTERVAL`] a full round runs anyway;
//! * a failed round is retried with a growing back-off (the server or the
//!   broker may be away); a revoked token stops the loop;
//! * a download whose data is missing or corrupt, or that does not fit on a
//!   full disk, backs off on its own (the engine's `failed_downloads`), and
//!   the loop wakes up when it is due; a state database whose disk is full
//!   fails the round, which is retried like any other (a damaged or
//!   unusable one stops the loop);
//!   content the object store lacks is reported to the server, which asks
//!   every device of the workspace (`content_missing`): one whose copy is
//!   that version uploads the missing chunks again;
//! * the shutdown future (Ctrl-C) stops it between or within rounds. An
//!   interrupted round is like a crash, which the engine is built for: the
//!   state on disk is consistent and a commit in flight is re-sent under
//!   its request id at the next start.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indicatif::MultiProgress;
use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::RpcClient;
use nimbus_protocol::notify::{Push, UserEvent, WorkspaceEvent};
use nimbus_protocol::rpc::{Account, DeviceToken, Operation, WorkspaceInfo};
use nimbus_protocol::trace::{self, TraceId};
use notify_debouncer_full::notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use crate::config::ConfigDir;
use crate::engine::{Engine, Round, Sibling, SiblingGroup};
use crate::error::Error;
use crate::filter::IGNORE_FILE;
use crate::fs::{Fs, FsError, META_DIR, RealFs};
use crate::mounts::{self, MountNames, Mounts, ignoring_mounts};
use crate::passphrase::{self, PassphraseSource};
use crate::remote::{Clock, RemoteError, SystemClock};
use crate::state::SqliteStore;
use crate::transfer::{NimbusRemote, TransferStats, rpc_error};

/// A full round runs at least this often, whatever the events say.
pub const SAFETY_INTERVAL: Duration = Duration::from_secs(300);

/// How long the file watcher gathers events before passing them on: the
/// events of one save (truncate, write, close) come within it.
pub const WATCH_DEBOUNCE: Duration = Duration::from_millis(50);

/// How long after its first event a file still open for writing is looked
/// at anyway (a writer that keeps it open). One its writer closed is looked
/// at at once, so a save goes up without waiting, and a file being written
/// is not read half-way (what changes while it is read is read again).
pub const WRITE_SETTLE: Duration = Duration::from_millis(300);

/// The engine of one linked folder, and what it runs with.
pub struct Session {
    pub engine: Engine<RealFs, NimbusRemote>,
    pub store: SqliteStore,
    pub rpc: RpcClient,
    /// The device's token, for subscribing to push notifications.
    pub token: DeviceToken,
    pub workspace: WorkspaceInfo,
    pub device_id: Uuid,
    pub root: PathBuf,
    pub stats: Arc<TransferStats>,
    /// Top-level folders the engine leaves to their own engines (mounts).
    pub mount_names: MountNames,
    /// For the folder of the default workspace: the shared workspaces
    /// mounted inside it, synced while [`run`] runs.
    pub mounts: Option<Mounts>,
}

/// Which workspace a folder syncs, and where its passphrase comes from.
#[derive(Debug, Clone)]
pub struct Target {
    /// The workspace's keys when they are at hand already (a mount's, which
    /// its parent's [`Mounts`] unlocked): `passphrase` is then not asked.
    pub keys: Option<WorkspaceKeys>,
    /// The workspace by name (the caller's name for it). `None`: the
    /// workspace the folder is linked to, or the default one for a new link.
    pub workspace: Option<String>,
    /// The workspace by id, before `workspace` (a mount names its own).
    pub workspace_id: Option<Uuid>,
    /// Asked only when the workspace is end-to-end encrypted.
    pub passphrase: PassphraseSource,
}

impl Default for Target {
    fn default() -> Self {
        Self {
            workspace: None,
            workspace_id: None,
            passphrase: PassphraseSource::Unavailable,
            keys: None,
        }
    }
}

/// Opens the folder `root` (linking it to the default workspace on first
/// use) for the device logged in under `config_dir`.
pub async fn open(
    config_dir: &ConfigDir,
    root: &Path,
    progress: Option<MultiProgress>,
) -> Result<Session, Error> {
    open_target(config_dir, root, progress, &Target::default()).await
}

/// Opens the folder `root` for `target`, linking it on first use.
///
/// A folder stays linked to the workspace it was first synced with. The
/// workspace is chosen and, if encrypted, unlocked before anything is
/// written: a wrong passphrase or workspace name leaves the folder and its
/// state as they were.
pub async fn open_target(
    config_dir: &ConfigDir,
    root: &Path,
    progress: Option<MultiProgress>,
    target: &Target,
) -> Result<Session, Error> {
    let (config, token) = config_dir.load()?;
    let rpc = config.connect_rpc().await.map_err(rpc_error)?;
    let account = rpc.get_account(&token).await.map_err(rpc_error)?;
    let workspaces = rpc.get_workspaces(&token).await.map_err(rpc_error)?;

    let root =
        std::path::absolute(root).map_err(|e| Error::config(format!("{}: {e}", root.display())))?;
    let state_dir = config_dir.folder_dir(&root);
    let state_file = state_dir.join("state.db");
    // Only an existing state is opened here: a new one is created after the
    // workspace is unlocked.
    let linked = if state_file.is_file() {
        let store = SqliteStore::open(&state_file).await?;
        match store.get("link_id").await? {
            Some(link_id) => {
                let link_id = link_id
                    .parse::<Uuid>()
                    .map_err(|e| Error::config(format!("damaged link id in the state: {e}")))?;
                let workspace_id = store
                    .get("workspace_id")
                    .await?
                    .and_then(|id| id.parse::<Uuid>().ok())
                    .ok_or_else(|| Error::config("damaged workspace id in the state"))?;
                Some((store, link_id, workspace_id))
            }
            None => {
                store.close().await;
                None
            }
        }
    } else {
        None
    };
    let linked_workspace = linked.as_ref().map(|(_, _, id)| *id);
    let workspace = choose_workspace(&workspaces, &root, linked_workspace, target)?;
    let keys = match &target.keys {
        Some(keys) => keys.clone(),
        None => passphrase::unlock(&workspace, &target.passphrase).await?,
    };
    let mut remote = NimbusRemote::connect(
        rpc.clone(),
        token.clone(),
        &workspace,
        &storage_url(&account, &workspace)?,
        keys,
    )
    .await?;
    if let Some(progress) = progress {
        remote = remote.with_progress(progress);
    }
    let stats = remote.stats();

    let (store, link_id) = match linked {
        Some((store, link_id, _)) => (store, link_id),
        None => {
            // First use: link the folder (creating it if needed). Anything
            // already in it is merged, never deleted.
            std::fs::create_dir_all(&state_dir)
                .map_err(|e| Error::config(format!("{}: {e}", state_dir.display())))?;
            let store = SqliteStore::open(&state_file).await?;
            let id = link(&store, &root, workspace.workspace_id).await?;
            tracing::info!(folder = %root.display(), workspace = %workspace.name, "linked");
            (store, id)
        }
    };
    let fs = RealFs::new(root.clone(), link_id);
    fs.clean_temp();
    let loaded = store.load().await?;
    // Known mounts are hidden from the first scan on, also in `--once`
    // runs, which do not mount: their files must never reach this workspace.
    let mount_names = mounts::names(&store).await?;
    let handoffs = loaded.handoffs;
    let mut engine = Engine::new(
        fs,
        remote,
        Box::new(store.clone()),
        Arc::new(SystemClock),
        config.device_name.clone(),
        ignoring_mounts(&root, mount_names.clone()),
        loaded.trees,
        loaded.cursor,
        loaded.pending,
    );
    // A viewer's edits stay on this disk: the server would refuse them.
    engine.read_only = !workspace.role.can_write();
    engine.handoffs = handoffs;
    // The mounts' engines and this one: deletions wait for the others'
    // uploads, so a file moved between them is copied before it is deleted.
    let mounts = workspace.is_default.then(|| {
        let siblings = SiblingGroup::default();
        engine.siblings = Some(siblings.join());
        Mounts::new(
            config_dir.clone(),
            config.user_id,
            mount_names.clone(),
            siblings,
            target.passphrase.clone(),
        )
    });
    // Small files are dominated by request latency: keep more in flight.
    engine.upload_concurrency = 16;
    engine.download_concurrency = 16;
    Ok(Session {
        engine,
        store,
        rpc,
        token,
        workspace,
        device_id: config.device_id,
        root,
        stats,
        mount_names,
        mounts,
    })
}

/// Links the folder `root` to `workspace_id` with the state `store`:
/// the marker on disk, then the link in the state, the link id last (a
/// state without it is not linked yet). Returns the link id.
pub(crate) async fn link(
    store: &SqliteStore,
    root: &Path,
    workspace_id: Uuid,
) -> Result<Uuid, Error> {
    let id = Uuid::new_v4();
    RealFs::link(root, id)
        .map_err(|e| Error::config(format!("cannot link {}: {e}", root.display())))?;
    store.put("root", &root.to_string_lossy()).await?;
    store.put("workspace_id", &workspace_id.to_string()).await?;
    store.put("link_id", &id.to_string()).await?;
    Ok(id)
}

/// The object-store account URL of `workspace`: a shared workspace's
/// container lives in its owner's account, not in the member's.
fn storage_url(account: &Account, workspace: &WorkspaceInfo) -> Result<String, Error> {
    account_url(
        &account.storage_url,
        &account.storage_account,
        &workspace.storage_account,
    )
    .ok_or_else(|| {
        Error::config(format!(
            "the server's storage URL {} does not end with the account {}; \
             the shared workspace \"{}\" cannot be reached",
            account.storage_url, account.storage_account, workspace.name
        ))
    })
}

/// `own_url` (the URL of `own_account`) turned into the URL of `account`.
pub(crate) fn account_url(own_url: &str, own_account: &str, account: &str) -> Option<String> {
    if account == own_account {
        return Some(own_url.to_owned());
    }
    own_url
        .trim_end_matches('/')
        .strip_suffix(own_account)
        .filter(|base| base.ends_with('/'))
        .map(|base| format!("{base}{account}"))
}

/// The workspace `root` syncs: the one it is linked to (which `target` may
/// name but not change), else the one `target` names, else the default one.
fn choose_workspace(
    workspaces: &[WorkspaceInfo],
    root: &Path,
    linked: Option<Uuid>,
    target: &Target,
) -> Result<WorkspaceInfo, Error> {
    let wanted = target.workspace.as_deref();
    if let Some(id) = target.workspace_id {
        if linked.is_some_and(|linked| linked != id) {
            return Err(Error::config(format!(
                "{} is linked to another workspace; move it away and it is synced anew",
                root.display()
            )));
        }
        return workspaces
            .iter()
            .find(|w| w.workspace_id == id)
            .cloned()
            .ok_or_else(|| {
                Error::config(format!(
                    "{} belongs to a workspace you are no longer a member of",
                    root.display()
                ))
            });
    }
    if let Some(linked) = linked {
        let workspace = workspaces
            .iter()
            .find(|w| w.workspace_id == linked)
            .ok_or_else(|| {
                Error::config(format!(
                    "{} is linked to a workspace you are no longer a member of; \
                     sync another folder instead",
                    root.display()
                ))
            })?;
        return match wanted {
            Some(name) if name != workspace.name => Err(Error::config(format!(
                "{} is linked to workspace \"{}\" and stays linked to it; to sync \"{name}\", \
                 use another folder: nimbus sync <OTHER DIR> --workspace \"{name}\"",
                root.display(),
                workspace.name
            ))),
            _ => Ok(workspace.clone()),
        };
    }
    let found = match wanted {
        Some(name) => workspaces.iter().find(|w| w.name == name).ok_or_else(|| {
            let names: Vec<&str> = workspaces.iter().map(|w| w.name.as_str()).collect();
            Error::config(format!(
                "you have no workspace named \"{name}\" (yours: {}); create it with \
                 `nimbus workspace create`",
                names.join(", ")
            ))
        })?,
        None => workspaces
            .iter()
            .find(|w| w.is_default)
            .ok_or_else(|| Error::config("the account has no default workspace"))?,
    };
    Ok(found.clone())
}

/// Completes when another engine of the folder reported ([`Sibling::changed`]);
/// never for a folder without mounts.
fn siblings_changed(siblings: Option<&Sibling>) -> impl Future<Output = ()> + 'static {
    let wait = siblings.map(Sibling::changed);
    async move {
        match wait {
            Some(wait) => wait.await,
            None => std::future::pending().await,
        }
    }
}

/// Why the loop wakes up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kick {
    /// A device could not download this item: the store lacks chunks of it,
    /// which this device may have.
    ContentMissing(Uuid),
    /// Something changed on disk at these paths (relative; an empty one:
    /// anywhere): `done` ones are looked at now, those still open for
    /// writing [`WRITE_SETTLE`] after their first event, unless their writer
    /// closes them first.
    Local {
        done: Vec<String>,
        writing: Vec<String>,
    },
    /// The watcher lost events (overflow or error): rescan, and watch again
    /// so that folders created meanwhile get their own watches.
    WatchLost,
    /// The server announced a change (or the listener reconnected).
    Remote,
    /// The user's memberships or mounts changed: mount and unmount.
    Access,
}

/// Runs rounds until `shutdown` completes. `on_round` is called after each
/// round that ended quiet (for tests and progress reporting).
pub async fn run(
    session: &mut Session,
    shutdown: impl Future<Output = ()>,
    mut on_round: impl FnMut(&Round),
) -> Result<(), Error> {
    let (kicks, mut kicked) = mpsc::unbounded_channel::<Kick>();
    let meta = session.root.join(META_DIR);
    let root = session.root.clone();
    let local_kicks = kicks.clone();
    let mut debouncer = new_debouncer(WATCH_DEBOUNCE, None, move |result: DebounceEventResult| {
        let kick = match result {
            Ok(events) if events.iter().any(|e| e.event.need_rescan()) => {
                tracing::info!("the file watcher lost events; rescanning");
                Some(Kick::WatchLost)
            }
            Ok(events) => {
                // Per path, whether its last event leaves it written to
                // and not closed yet.
                let mut changed: BTreeMap<String, bool> = BTreeMap::new();
                for event in events.iter().filter(|e| may_change_files(&e.event.kind)) {
                    for path in event.paths.iter().filter(|p| !p.starts_with(&meta)) {
                        // Outside the folder or not UTF-8: look at everything.
                        let path = relative(&root, path).unwrap_or_default();
                        changed.insert(path, still_writing(&event.event.kind));
                    }
                }
                let (writing, done): (Vec<_>, Vec<_>) =
                    changed.into_iter().partition(|(_, writing)| *writing);
                let paths = |list: Vec<(String, bool)>| list.into_iter().map(|(p, _)| p).collect();
                (!writing.is_empty() || !done.is_empty()).then(|| Kick::Local {
                    done: paths(done),
                    writing: paths(writing),
                })
            }
            Err(errors) => {
                for error in errors {
                    tracing::warn!(%error, "file watcher error; rescanning");
                }
                Some(Kick::WatchLost)
            }
        };
        if let Some(kick) = kick {
            let _ = local_kicks.send(kick);
        }
    })
    .map_err(|e| Error::config(format!("cannot watch files: {e}")))?;
    if let Err(error) = debouncer.watch(&session.root, RecursiveMode::Recursive) {
        // Without events, the periodic round still syncs.
        tracing::warn!(%error, "cannot watch the folder; changes are picked up every few minutes");
    }
    let mut mounts = session.mounts.take();
    let listener = tokio::spawn(listen(
        session.rpc.clone(),
        session.token.clone(),
        session.workspace.workspace_id,
        session.device_id,
        kicks,
    ));

    tokio::pin!(shutdown);
    reconcile(&mut mounts, session).await;
    let mut backoff = Duration::from_secs(1);
    let mut retry_in: Option<Duration>;
    session.engine.need_scan = true;
    session.engine.need_fetch = true;
    // Files still open for writing, and when they are looked at anyway.
    let mut writing: BTreeMap<String, Instant> = BTreeMap::new();
    let result = 'rounds: loop {
        if session.engine.need_scan || !session.engine.scan_hints.is_empty() {
            // An adopted mount joins the scan at once (adopt runs in another
            // process); it and new ignore rules may change what is synced
            // anywhere, so the whole folder is scanned again.
            let before = current_names(&session.mount_names);
            if let Err(error) = mounts::refresh_names(&session.store, &session.mount_names).await {
                tracing::warn!(%error, "cannot read the shared folders' records");
            }
            if before != current_names(&session.mount_names)
                || session.engine.scan_hints.contains(IGNORE_FILE)
                || session.engine.scan_hints.contains("")
            {
                session.engine.need_scan = true;
            }
            if session.engine.need_scan {
                session.engine.ignore = ignoring_mounts(&session.root, session.mount_names.clone());
            }
        }
        let outcome = tokio::select! {
            outcome = session.sync_round() => outcome,
            () = &mut shutdown => break Ok(()),
        };
        report_missing_content(session).await;
        // A folder became a workspace: its mount takes it over at once.
        if !session.engine.handoffs.is_empty() {
            reconcile(&mut mounts, session).await;
        }
        match outcome {
            Ok(round) => {
                backoff = Duration::from_secs(1);
                retry_in = session.engine.next_download_retry_ms().map(|at| {
                    let wait = at.saturating_sub(SystemClock.now_ms()).max(0);
                    Duration::from_millis(u64::try_from(wait).unwrap_or(0)).min(SAFETY_INTERVAL)
                });
                if round.quiet {
                    tracing::debug!(ops = round.ops, passes = round.passes, "in sync");
                    on_round(&round);
                } else {
                    // The pass limit was hit: go on right away.
                    retry_in = Some(Duration::ZERO);
                }
            }
            Err(Error::Remote(RemoteError::Unauthenticated(message))) => {
                let _ = session.store.put("status.last_error", &message).await;
                break Err(Error::Remote(RemoteError::Unauthenticated(message)));
            }
            Err(error @ (Error::State { .. } | Error::Config(_))) => break Err(error),
            Err(error) => {
                let message = error.to_string();
                if matches!(error, Error::Fs(FsError::RootMissing(_))) {
                    tracing::error!("{message}");
                } else {
                    tracing::warn!(error = %message, retry_in = ?backoff, "sync round failed");
                }
                let _ = session.store.put("status.last_error", &message).await;
                session.engine.need_scan = true;
                session.engine.need_fetch = true;
                retry_in = Some(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
        let wake_at = Instant::now() + retry_in.unwrap_or(SAFETY_INTERVAL);
        let kick = loop {
            let settled_at = writing.values().min().copied();
            tokio::select! {
                kick = kicked.recv() => match kick {
                    // Only files still being written: wait for more.
                    Some(Kick::Local { done, writing: open }) if done.is_empty() => {
                        let at = Instant::now() + WRITE_SETTLE;
                        for path in open {
                            writing.entry(path).or_insert(at);
                        }
                    }
                    other => break other,
                },
                () = tokio::time::sleep_until(settled_at.unwrap_or(wake_at)), if settled_at.is_some() => {
                    let now = Instant::now();
                    writing.retain(|path, at| {
                        let due = *at <= now;
                        if due {
                            session.engine.scan_hints.insert(path.clone());
                        }
                        !due
                    });
                    break None;
                }
                // Another engine of this folder reported: it may want this
                // one to scan, or the deletions held back may go.
                () = siblings_changed(session.engine.siblings.as_ref()) => {
                    let Some(siblings) = session.engine.siblings.as_ref() else { continue };
                    if siblings.scan_wanted() {
                        session.engine.need_scan = true;
                        break None;
                    }
                    if siblings.holding() {
                        break None;
                    }
                }
                () = tokio::time::sleep_until(wake_at) => {
                    session.engine.need_scan = true;
                    session.engine.need_fetch = true;
                    reconcile(&mut mounts, session).await;
                    continue 'rounds;
                }
                () = &mut shutdown => break 'rounds Ok(()),
            }
        };
        let mut watch_lost = false;
        let mut access = false;
        let mut missing = Vec::new();
        let mut apply = |kick: Kick| match kick {
            Kick::ContentMissing(item_id) => missing.push(item_id),
            Kick::Local {
                done,
                writing: open,
            } => {
                for path in done {
                    writing.remove(&path);
                    session.engine.scan_hints.insert(path);
                }
                let at = Instant::now() + WRITE_SETTLE;
                for path in open {
                    writing.entry(path).or_insert(at);
                }
            }
            Kick::WatchLost => {
                session.engine.need_scan = true;
                watch_lost = true;
            }
            Kick::Remote => session.engine.need_fetch = true,
            Kick::Access => access = true,
        };
        if let Some(kick) = kick {
            apply(kick);
        }
        while let Ok(kick) = kicked.try_recv() {
            apply(kick);
        }
        if access {
            reconcile(&mut mounts, session).await;
            // A conversion comes with an access event, and its commit in this
            // workspace is dropped as this device's own when `nimbus share`
            // ran with this device's identity: fetching is what hands the
            // folder over to its mount.
            session.engine.need_fetch = true;
        }
        for item_id in missing {
            restore_content(session, item_id).await;
        }
        if watch_lost {
            // A recursive watch covers the folders that existed when it was
            // registered. Registering it again adds watches for folders made
            // while events were lost; existing ones are kept (no unwatch,
            // whose own events could overflow the queue again).
            if let Err(error) = debouncer.watch(&session.root, RecursiveMode::Recursive) {
                tracing::warn!(%error, "cannot watch the folder again; changes are picked up every few minutes");
            }
        }
    };
    listener.abort();
    debouncer.stop_nonblocking();
    if let Some(mounts) = &mut mounts {
        mounts.stop().await;
    }
    session.mounts = mounts;
    if let Err(error) = session.engine.save().await {
        tracing::warn!(%error, "cannot save the state while stopping");
    }
    session.engine.fs.clean_temp();
    result
}

impl Session {
    /// One sync round under a fresh trace id: the round's log lines and the
    /// metadata servers' lines of its RPCs carry it.
    pub async fn sync_round(&mut self) -> Result<Round, Error> {
        let trace_id = TraceId::random();
        let span = tracing::info_span!("sync round", %trace_id);
        trace::scope(trace_id, self.engine.sync_round())
            .instrument(span)
            .await
    }
}

/// The mount names as they are now.
fn current_names(names: &MountNames) -> BTreeSet<String> {
    names.read().map(|names| names.clone()).unwrap_or_default()
}

/// `path` relative to `root`, `/`-separated as the engine names paths;
/// `None` outside it or when not UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?.to_str()?.replace('\\', "/");
    (!relative.is_empty()).then_some(relative)
}

/// Tells the server which files could not be downloaded because the object
/// store lacks chunks of them. A report that fails is made again at the
/// download's next failure.
async fn report_missing_content(session: &mut Session) {
    for item_id in std::mem::take(&mut session.engine.missing_content) {
        let operation = Operation::ReportMissingContent { item_id };
        if let Err(error) = session
            .rpc
            .call::<()>(Some(&session.token), operation)
            .await
        {
            tracing::warn!(%error, %item_id, "cannot report missing content to the server");
        }
    }
}

/// Answers a `content_missing` event: when this device's copy of the file
/// is the version whose chunks the store lacks, uploads them again.
async fn restore_content(session: &Session, item_id: Uuid) {
    let Some((path, content)) = session.engine.local_copy_of_latest(item_id) else {
        return;
    };
    let reader = match session.engine.fs.open(&path) {
        Ok(reader) => reader,
        Err(error) => {
            tracing::warn!(%path, %error, "cannot read a file whose chunks the store lost");
            return;
        }
    };
    match session.engine.remote.restore(&content, reader).await {
        Ok(stored) => {
            tracing::info!(%path, stored, "uploaded chunks the object store had lost")
        }
        Err(error) => {
            tracing::warn!(%path, %error, "cannot upload chunks the object store lost")
        }
    }
}

/// Mounts and unmounts the shared workspaces, when `session` has any.
async fn reconcile(mounts: &mut Option<Mounts>, session: &mut Session) {
    if let Some(mounts) = mounts
        && let Err(error) = mounts.reconcile(session).await
    {
        tracing::warn!(%error, "cannot update the shared folders");
    }
}

/// Whether an event leaves a file written to and not closed yet: its
/// writer may be half-way.
fn still_writing(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
            | EventKind::Create(CreateKind::File | CreateKind::Any)
    )
}

/// Whether a watcher event can stand for a change on disk. Opening or
/// reading a file or folder cannot, and every scan and upload of the loop
/// itself opens them: taken as changes, they would start round after round.
fn may_change_files(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Forwards the workspace's push notifications as kicks, subscribing again
/// whenever the listener ends.
async fn listen(
    rpc: RpcClient,
    token: DeviceToken,
    workspace_id: Uuid,
    device_id: Uuid,
    kicks: mpsc::UnboundedSender<Kick>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match rpc.listen(&token).await {
            Ok(mut listener) => {
                backoff = Duration::from_secs(1);
                // Catch up with what was announced while not listening.
                if kicks.send(Kick::Remote).is_err() || kicks.send(Kick::Access).is_err() {
                    return;
                }
                while let Some(push) = listener.next_push().await {
                    let kick = match push {
                        Push::Commit(notification) => (notification.workspace_id == workspace_id
                            && notification.origin_device != device_id)
                            .then_some(Kick::Remote),
                        Push::User(UserEvent::Access { .. } | UserEvent::Mount { .. }) => {
                            Some(Kick::Access)
                        }
                        Push::User(_) => None,
                        Push::Workspace(WorkspaceEvent::ContentMissing {
                            workspace_id: event_workspace,
                            item_id,
                        }) => (event_workspace == workspace_id)
                            .then_some(Kick::ContentMissing(item_id)),
                    };
                    if let Some(kick) = kick
                        && kicks.send(kick).is_err()
                    {
                        return;
                    }
                }
                tracing::info!("push notifications interrupted; subscribing again");
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "cannot subscribe to push notifications");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_workspace_is_reached_in_its_owners_account() {
        let own = "http://127.0.0.1:8080/v1/AUTH_bob";
        assert_eq!(
            account_url(own, "AUTH_bob", "AUTH_bob").as_deref(),
            Some(own)
        );
        assert_eq!(
            account_url(&format!("{own}/"), "AUTH_bob", "AUTH_alice").as_deref(),
            Some("http://127.0.0.1:8080/v1/AUTH_alice")
        );
        // Only a whole last segment is replaced.
        assert_eq!(account_url(own, "bob", "AUTH_alice"), None);
        assert_eq!(account_url(own, "AUTH_carol", "AUTH_alice"), None);
    }
}
