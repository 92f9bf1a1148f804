//! `nimbus sync`: opening a linked folder and keeping it in sync.
//!
//! A [`Session`] is the engine of one folder with the real file system,
//! the real remote and the SQLite state. [`run`] drives it:
//!
//! * a first round scans the disk and merges with the server;
//! * file system events (notify, debounced) ask for a rescan; an overflow
//!   or a watcher error asks for one too, since events are only hints;
//! * push notifications of the workspace ask for a fetch; when the listener
//!   ends (broker restart, network) it subscribes again and the next round
//!   catches up from the cursor, so nothing announced meanwhile is missed;
//! * every [`SAFETY_INTERVAL`] a full round runs anyway;
//! * a failed round is retried with a growing back-off (the server or the
//!   broker may be away); a revoked token stops the loop;
//! * the shutdown future (Ctrl-C) stops it between or within rounds. An
//!   interrupted round is like a crash, which the engine is built for: the
//!   state on disk is consistent and a commit in flight is re-sent under
//!   its request id at the next start.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indicatif::MultiProgress;
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::WorkspaceInfo;
use nimbus_protocol::{RpcClient, Topology};
use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::ConfigDir;
use crate::engine::{Engine, Round};
use crate::error::Error;
use crate::filter;
use crate::fs::{FsError, META_DIR, RealFs};
use crate::remote::{RemoteError, SystemClock};
use crate::state::SqliteStore;
use crate::transfer::{NimbusRemote, TransferStats, rpc_error};

/// A full round runs at least this often, whatever the events say.
pub const SAFETY_INTERVAL: Duration = Duration::from_secs(300);

/// The engine of one linked folder, and what it runs with.
pub struct Session {
    pub engine: Engine<RealFs, NimbusRemote>,
    pub store: SqliteStore,
    pub rpc: RpcClient,
    pub workspace: WorkspaceInfo,
    pub device_id: Uuid,
    pub root: PathBuf,
    pub stats: Arc<TransferStats>,
}

/// Opens the folder `root` (linking it on first use) for the device logged
/// in under `config_dir`.
pub async fn open(
    config_dir: &ConfigDir,
    root: &Path,
    progress: Option<MultiProgress>,
) -> Result<Session, Error> {
    let (config, token) = config_dir.load()?;
    let rpc = RpcClient::connect(
        &config.amqp_url,
        Topology::new(config.queue_prefix.clone()),
        ClientOptions::default(),
    )
    .await
    .map_err(rpc_error)?;
    let account = rpc.get_account(&token).await.map_err(rpc_error)?;
    let workspace = rpc
        .get_workspaces(&token)
        .await
        .map_err(rpc_error)?
        .into_iter()
        .find(|w| w.is_default)
        .ok_or_else(|| Error::config("the account has no default workspace"))?;
    let mut remote =
        NimbusRemote::connect(rpc.clone(), token, &workspace, &account.storage_url).await?;
    if let Some(progress) = progress {
        remote = remote.with_progress(progress);
    }
    let stats = remote.stats();

    let root =
        std::path::absolute(root).map_err(|e| Error::config(format!("{}: {e}", root.display())))?;
    let state_dir = config_dir.folder_dir(&root);
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| Error::config(format!("{}: {e}", state_dir.display())))?;
    let store = SqliteStore::open(&state_dir.join("state.db")).await?;
    let link_id = match store.get("link_id").await? {
        Some(id) => {
            let linked_workspace = store.get("workspace_id").await?;
            if linked_workspace.as_deref() != Some(&workspace.workspace_id.to_string()) {
                return Err(Error::config(format!(
                    "{} is linked to another workspace; link a new folder instead",
                    root.display()
                )));
            }
            id.parse::<Uuid>()
                .map_err(|e| Error::config(format!("damaged link id in the state: {e}")))?
        }
        None => {
            // First use: link the folder (creating it if needed). Anything
            // already in it is merged, never deleted.
            let id = Uuid::new_v4();
            RealFs::link(&root, id)
                .map_err(|e| Error::config(format!("cannot link {}: {e}", root.display())))?;
            store.put("root", &root.to_string_lossy()).await?;
            store
                .put("workspace_id", &workspace.workspace_id.to_string())
                .await?;
            store.put("link_id", &id.to_string()).await?;
            tracing::info!(folder = %root.display(), workspace = %workspace.name, "linked");
            id
        }
    };
    let fs = RealFs::new(root.clone(), link_id);
    fs.clean_temp();
    let loaded = store.load().await?;
    let mut engine = Engine::new(
        fs,
        remote,
        Box::new(store.clone()),
        Arc::new(SystemClock),
        config.device_name.clone(),
        filter::load(&root),
        loaded.trees,
        loaded.cursor,
        loaded.pending,
    );
    // Small files are dominated by request latency: keep more in flight.
    engine.upload_concurrency = 16;
    engine.download_concurrency = 16;
    Ok(Session {
        engine,
        store,
        rpc,
        workspace,
        device_id: config.device_id,
        root,
        stats,
    })
}

/// Why the loop wakes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kick {
    /// Something changed on disk (or the watcher lost track).
    Local,
    /// The server announced a change (or the listener reconnected).
    Remote,
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
    let local_kicks = kicks.clone();
    let mut debouncer = new_debouncer(
        Duration::from_millis(300),
        None,
        move |result: DebounceEventResult| {
            let relevant = match result {
                Ok(events) => events.iter().any(|e| {
                    e.event.need_rescan() || e.event.paths.iter().any(|p| !p.starts_with(&meta))
                }),
                Err(errors) => {
                    for error in errors {
                        tracing::warn!(%error, "file watcher error; rescanning");
                    }
                    true
                }
            };
            if relevant {
                let _ = local_kicks.send(Kick::Local);
            }
        },
    )
    .map_err(|e| Error::config(format!("cannot watch files: {e}")))?;
    if let Err(error) = debouncer.watch(&session.root, RecursiveMode::Recursive) {
        // Without events, the periodic round still syncs.
        tracing::warn!(%error, "cannot watch the folder; changes are picked up every few minutes");
    }
    let listener = tokio::spawn(listen(
        session.rpc.clone(),
        session.workspace.workspace_id,
        session.device_id,
        kicks,
    ));

    tokio::pin!(shutdown);
    let mut backoff = Duration::from_secs(1);
    let mut retry_in: Option<Duration>;
    session.engine.need_scan = true;
    session.engine.need_fetch = true;
    let result = loop {
        if session.engine.need_scan {
            session.engine.ignore = filter::load(&session.root);
        }
        let outcome = tokio::select! {
            outcome = session.engine.sync_round() => outcome,
            () = &mut shutdown => break Ok(()),
        };
        match outcome {
            Ok(round) => {
                backoff = Duration::from_secs(1);
                retry_in = None;
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
        let wait = retry_in.unwrap_or(SAFETY_INTERVAL);
        let kick = tokio::select! {
            kick = kicked.recv() => kick,
            () = tokio::time::sleep(wait) => {
                session.engine.need_scan = true;
                session.engine.need_fetch = true;
                continue;
            }
            () = &mut shutdown => break Ok(()),
        };
        let mut apply = |kick: Kick| match kick {
            Kick::Local => session.engine.need_scan = true,
            Kick::Remote => session.engine.need_fetch = true,
        };
        if let Some(kick) = kick {
            apply(kick);
        }
        while let Ok(kick) = kicked.try_recv() {
            apply(kick);
        }
    };
    listener.abort();
    debouncer.stop_nonblocking();
    if let Err(error) = session.engine.save().await {
        tracing::warn!(%error, "cannot save the state while stopping");
    }
    session.engine.fs.clean_temp();
    result
}

/// Forwards the workspace's push notifications as kicks, subscribing again
/// whenever the listener ends.
async fn listen(
    rpc: RpcClient,
    workspace_id: Uuid,
    device_id: Uuid,
    kicks: mpsc::UnboundedSender<Kick>,
) {
    let keys = [Topology::workspace_key(workspace_id)];
    let mut backoff = Duration::from_secs(1);
    loop {
        match rpc.listen(&keys).await {
            Ok(mut listener) => {
                backoff = Duration::from_secs(1);
                // Catch up with what was announced while not listening.
                if kicks.send(Kick::Remote).is_err() {
                    return;
                }
                while let Some(notification) = listener.next().await {
                    if notification.origin_device != device_id && kicks.send(Kick::Remote).is_err()
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
