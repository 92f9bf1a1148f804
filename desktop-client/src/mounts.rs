//! Workspaces shared with the user, mounted inside their sync folder.
//!
//! The folder linked to the user's default workspace (the parent) holds a
//! folder per workspace shared with the user, under the user's mount name.
//! Each mount is a linked folder of its own with an engine of its own (its
//! state keyed by its path like any linked folder); the parent's engine
//! ignores it, so its files never reach the user's own workspace.
//!
//! The parent's state records the mounts (`mounts`: workspace, name, and
//! whether access ended). [`Mounts::reconcile`] compares that record with
//! `getWorkspaces`, at start, on every `access` or `mount` event and at the
//! periodic round: new memberships start a mount; memberships gone (removed,
//! left, unshared, also while this device was offline) stop it. An ended
//! mount stays on disk as plain files and stays ignored by the parent until
//! the user adopts it (`nimbus share adopt`: it becomes part of their own
//! workspace) or deletes it (`nimbus share delete`). A failed `getWorkspaces`
//! changes nothing: an unreachable server is never taken for an ended share.
//!
//! A mount is placed at the top of the sync folder; a name the parent's own
//! workspace already uses there (or an unlinked folder in the way) is not
//! mounted, so that nothing of the user's own is mixed into the share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use nimbus_protocol::rpc::{Role, WorkspaceInfo};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::config::ConfigDir;
use crate::daemon::{self, Session, Target};
use crate::engine::{Ignore, SiblingGroup};
use crate::error::Error;
use crate::filter;
use crate::fs::META_DIR;
use crate::state::SqliteStore;

/// The parent state's key of the mount records.
const MOUNTS_KEY: &str = "mounts";
/// A mount's own state key, set when its access ended.
pub const ACCESS_ENDED_KEY: &str = "access_ended";

/// One mount as the parent's state records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub workspace_id: Uuid,
    /// The folder's name at the top of the sync folder.
    pub name: String,
    pub role: Role,
    /// Access ended: not synced, kept on disk, ignored by the parent.
    pub ended: bool,
}

/// The mount records of the parent folder whose state is `store`.
pub async fn records(store: &SqliteStore) -> Result<Vec<MountRecord>, Error> {
    Ok(store
        .get(MOUNTS_KEY)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

pub async fn save_records(store: &SqliteStore, records: &[MountRecord]) -> Result<(), Error> {
    let json = serde_json::to_string(records)
        .map_err(|e| Error::config(format!("cannot encode the mounts: {e}")))?;
    store.put(MOUNTS_KEY, &json).await
}

/// Names at the top of the parent folder that its engine leaves alone.
pub type MountNames = Arc<RwLock<BTreeSet<String>>>;

/// The names of the mounts recorded in the parent state `store`.
pub async fn names(store: &SqliteStore) -> Result<MountNames, Error> {
    let names = records(store).await?.into_iter().map(|r| r.name).collect();
    Ok(Arc::new(RwLock::new(names)))
}

/// Makes `names` what the parent state `store` records, e.g. after
/// `nimbus share adopt` in another process removed one.
pub async fn refresh_names(store: &SqliteStore, names: &MountNames) -> Result<(), Error> {
    publish(names, &records(store).await?);
    Ok(())
}

fn publish(names: &MountNames, records: &[MountRecord]) {
    if let Ok(mut names) = names.write() {
        *names = records.iter().map(|r| r.name.clone()).collect();
    }
}

/// The ignore rules of the folder `root` ([`filter::load`]), plus
/// everything in its mounts: the folders `names` holds, and any folder at
/// its top that is linked itself (has a `.nimbus` marker), such as a mount
/// the user renamed, so that a share never slips into the user's own
/// workspace under another name.
pub fn ignoring_mounts(root: &Path, names: MountNames) -> Ignore {
    let base = filter::load(root);
    let root = root.to_owned();
    Arc::new(move |path: &str, is_folder: bool| {
        let (top, nested) = path.split_once('/').unwrap_or((path, ""));
        let linked = is_folder && nested.is_empty() && root.join(top).join(META_DIR).is_dir();
        linked || names.read().is_ok_and(|names| names.contains(top)) || base(path, is_folder)
    })
}

/// A mount being synced by a task of its own.
struct RunningMount {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The mounts of one parent folder, and their sync tasks.
pub struct Mounts {
    pub config_dir: ConfigDir,
    pub user_id: Uuid,
    /// Shared with the parent's engine.
    pub names: MountNames,
    /// The parent's engine and those of the mounts.
    siblings: SiblingGroup,
    running: BTreeMap<Uuid, RunningMount>,
}

impl Mounts {
    pub fn new(
        config_dir: ConfigDir,
        user_id: Uuid,
        names: MountNames,
        siblings: SiblingGroup,
    ) -> Self {
        Self {
            config_dir,
            user_id,
            names,
            siblings,
            running: BTreeMap::new(),
        }
    }

    /// Starts and stops mounts to match the user's memberships.
    pub async fn reconcile(&mut self, parent: &Session) -> Result<(), Error> {
        let mut records = records(&parent.store).await?;
        // Hidden from the parent before anything else, also after a restart.
        publish(&self.names, &records);
        // Written back only when changed: `nimbus share adopt` and `delete`
        // (other processes) remove records, which a blind write would undo.
        let recorded = records.clone();
        let workspaces = match parent.rpc.get_workspaces(&parent.token).await {
            Ok(workspaces) => workspaces,
            Err(error) => {
                tracing::debug!(%error, "cannot list workspaces; mounts stay as they are");
                return Ok(());
            }
        };
        let changes = plan(
            &mut records,
            &workspaces,
            self.user_id,
            |records, workspace| in_the_way(parent, records, workspace),
        );
        for change in &changes {
            if let MountChange::End(record) = change {
                self.end(parent, record).await?;
            }
        }
        // Recorded, and so hidden from the parent, before any starts.
        if records != recorded {
            save_records(&parent.store, &records).await?;
            publish(&self.names, &records);
        }
        for change in changes {
            match change {
                MountChange::End(_) => {}
                MountChange::Run { record, restart } => {
                    if restart {
                        self.stop_one(record.workspace_id).await;
                    }
                    if !self.running.contains_key(&record.workspace_id) {
                        self.start(parent, &record).await;
                    }
                }
                MountChange::Start(record) => self.start(parent, &record).await,
            }
        }
        Ok(())
    }

    /// Opens the mount's folder and syncs it in a task of its own. A mount
    /// that cannot be opened now is tried again at the next reconcile.
    async fn start(&mut self, parent: &Session, record: &MountRecord) {
        let root = parent.root.join(&record.name);
        let target = Target {
            workspace: Some(record.name.clone()),
            ..Target::default()
        };
        let mut session = match daemon::open_target(&self.config_dir, &root, None, &target).await {
            Ok(session) => session,
            Err(error) => {
                tracing::warn!(folder = %root.display(), %error, "cannot open a shared folder");
                return;
            }
        };
        session.engine.siblings = Some(self.siblings.join());
        if let Err(error) = session.store.delete(ACCESS_ENDED_KEY).await {
            tracing::warn!(%error, "cannot update a shared folder's state");
        }
        tracing::info!(folder = %root.display(), role = ?record.role, "syncing a shared folder");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = spawn_sync(session, stopped);
        self.running
            .insert(record.workspace_id, RunningMount { stop, task });
    }

    /// Access to the mount ended: stop syncing it and keep its files.
    async fn end(&mut self, parent: &Session, record: &MountRecord) -> Result<(), Error> {
        self.stop_one(record.workspace_id).await;
        let root = parent.root.join(&record.name);
        let state = self.config_dir.folder_dir(&root).join("state.db");
        if state.is_file() {
            let store = SqliteStore::open(&state).await?;
            store.put(ACCESS_ENDED_KEY, "1").await?;
            store.close().await;
        }
        tracing::warn!(
            folder = %root.display(),
            "your access to this shared folder ended; its files stay here, no longer synced \
             (`nimbus status` says how to keep or delete them)"
        );
        Ok(())
    }

    async fn stop_one(&mut self, workspace_id: Uuid) {
        if let Some(running) = self.running.remove(&workspace_id) {
            let _ = running.stop.send(());
            let _ = running.task.await;
        }
    }

    /// Stops every mount's task (the loop is stopping).
    pub async fn stop(&mut self) {
        let ids: Vec<Uuid> = self.running.keys().copied().collect();
        for id in ids {
            self.stop_one(id).await;
        }
    }
}

/// Runs a mount's loop until `stopped`. A plain function, not a step of
/// [`Mounts::start`]: a mount's loop is its parent's loop function, and
/// awaiting into it would make that function's future contain itself.
fn spawn_sync(mut session: Session, stopped: oneshot::Receiver<()>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(error) = daemon::run(&mut session, shutdown, |_| {}).await {
            tracing::warn!(folder = %session.root.display(), %error, "a shared folder stopped syncing");
        }
        session.store.close().await;
    })
}

/// What [`Mounts::reconcile`] does to one mount, as [`plan`] decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountChange {
    /// Access ended (or the mount was renamed on another device): stop
    /// syncing it and keep its files.
    End(MountRecord),
    /// A known mount that goes on (started if it is not running);
    /// `restart`: its role changed or its access came back, so its engine
    /// starts again with the new rights.
    Run { record: MountRecord, restart: bool },
    /// A new membership: a new mount.
    Start(MountRecord),
}

/// Matches the mount `records` to `workspaces` (the user's memberships, as
/// `getWorkspaces` lists them) and returns what to do, in order: the
/// memberships gone end their mounts, new ones start mounts, a role change
/// or a membership back after an end restarts the same folder. A new mount
/// that `in_the_way` finds a reason against is left out until it is not.
/// A pure decision: the simulation runs it as the daemon does.
pub fn plan(
    records: &mut Vec<MountRecord>,
    workspaces: &[WorkspaceInfo],
    user_id: Uuid,
    in_the_way: impl Fn(&[MountRecord], &WorkspaceInfo) -> Option<String>,
) -> Vec<MountChange> {
    let shared: BTreeMap<Uuid, &WorkspaceInfo> = workspaces
        .iter()
        .filter(|w| !w.is_default && w.owner_id != user_id)
        .map(|w| (w.workspace_id, w))
        .collect();
    let mut changes = Vec::new();
    for record in records.iter_mut().filter(|r| !r.ended) {
        if !shared.contains_key(&record.workspace_id) {
            record.ended = true;
            changes.push(MountChange::End(record.clone()));
        }
    }
    for workspace in shared.values() {
        let id = workspace.workspace_id;
        let known = records
            .iter()
            .position(|r| r.workspace_id == id && r.name == workspace.name);
        if let Some(index) = known {
            // Back after an end (accepted again), or a role change.
            let record = &mut records[index];
            let restart = record.ended || record.role != workspace.role;
            record.ended = false;
            record.role = workspace.role;
            changes.push(MountChange::Run {
                record: record.clone(),
                restart,
            });
            continue;
        }
        // Renamed on another device: the old folder is kept, not synced.
        for record in records
            .iter_mut()
            .filter(|r| r.workspace_id == id && !r.ended)
        {
            record.ended = true;
            changes.push(MountChange::End(record.clone()));
        }
        if let Some(reason) = in_the_way(records, workspace) {
            tracing::warn!(
                workspace = %workspace.name,
                "a shared workspace is not mounted: {reason}"
            );
            continue;
        }
        let record = MountRecord {
            workspace_id: id,
            name: workspace.name.clone(),
            role: workspace.role,
            ended: false,
        };
        records.push(record.clone());
        changes.push(MountChange::Start(record));
    }
    changes
}

/// Why `workspace` cannot be mounted under its name now, if it cannot.
fn in_the_way(
    parent: &Session,
    records: &[MountRecord],
    workspace: &WorkspaceInfo,
) -> Option<String> {
    let name = &workspace.name;
    if records.iter().any(|r| &r.name == name && r.ended) {
        return Some(format!(
            "the folder \"{name}\" of an ended share is still there; adopt or delete it \
             (`nimbus status` says how)"
        ));
    }
    let trees = &parent.engine.trees;
    if trees.remote.child(None, name).is_some() || trees.synced.child(None, name).is_some() {
        return Some(format!(
            "your own workspace has \"{name}\" at the top of the sync folder; rename that one"
        ));
    }
    let root = parent.root.join(name);
    if root.exists() && !root.join(META_DIR).is_dir() {
        return Some(format!(
            "{} is in the way; move it elsewhere and it will be mounted",
            root.display()
        ));
    }
    None
}

/// The parent folder of the mount at `path`, with its record.
pub async fn find(
    config_dir: &ConfigDir,
    path: &Path,
) -> Result<(SqliteStore, Vec<MountRecord>, usize, PathBuf), Error> {
    let mount =
        std::path::absolute(path).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    let not_a_mount = || {
        Error::config(format!(
            "{} is not the folder of a share whose access ended; `nimbus status` lists them",
            mount.display()
        ))
    };
    let parent = mount.parent().ok_or_else(not_a_mount)?;
    let name = mount
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(not_a_mount)?;
    let state = config_dir.folder_dir(parent).join("state.db");
    if !state.is_file() {
        return Err(not_a_mount());
    }
    let store = SqliteStore::open(&state).await?;
    let records = records(&store).await?;
    match records.iter().position(|r| r.name == name && r.ended) {
        Some(index) => Ok((store, records, index, mount)),
        None => {
            store.close().await;
            Err(not_a_mount())
        }
    }
}

/// Unlinks an ended mount's folder: its state and marker go, its files stay.
fn unlink(config_dir: &ConfigDir, mount: &Path) -> Result<(), Error> {
    let remove = |path: &Path| match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::config(format!("{}: {e}", path.display())))
        }
        _ => Ok(()),
    };
    remove(&config_dir.folder_dir(mount))?;
    remove(&mount.join(META_DIR))
}

/// `nimbus share adopt`: the files of an ended share become the user's own;
/// the parent folder uploads them at its next scan.
pub async fn adopt(config_dir: &ConfigDir, path: &Path) -> Result<PathBuf, Error> {
    let (store, mut records, index, mount) = find(config_dir, path).await?;
    // The record first: unlinking makes file events, on which a running
    // loop scans again and must find the folder no longer ignored. Its
    // `.nimbus` is ignored at any depth, so nothing of the link is uploaded.
    records.remove(index);
    save_records(&store, &records).await?;
    store.close().await;
    unlink(config_dir, &mount)?;
    Ok(mount)
}

/// `nimbus share delete`: removes an ended share's local copy.
pub async fn delete(config_dir: &ConfigDir, path: &Path) -> Result<PathBuf, Error> {
    let (store, mut records, index, mount) = find(config_dir, path).await?;
    unlink(config_dir, &mount)?;
    if let Err(e) = std::fs::remove_dir_all(&mount)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(Error::config(format!("{}: {e}", mount.display())));
    }
    records.remove(index);
    save_records(&store, &records).await?;
    store.close().await;
    Ok(mount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_protocol::rpc::EncryptionMode;

    fn membership(id: u128, name: &str, role: Role) -> WorkspaceInfo {
        WorkspaceInfo {
            workspace_id: Uuid::from_u128(id),
            name: name.into(),
            owner_id: Uuid::from_u128(99),
            role,
            encryption: EncryptionMode::None,
            revision: 0,
            container: String::new(),
            storage_account: String::new(),
            mount_parent: None,
            is_default: false,
            key_check: None,
        }
    }

    fn record(id: u128, name: &str, role: Role, ended: bool) -> MountRecord {
        MountRecord {
            workspace_id: Uuid::from_u128(id),
            name: name.into(),
            role,
            ended,
        }
    }

    #[test]
    fn the_plan_ends_gone_memberships_and_restarts_changed_ones() {
        let me = Uuid::from_u128(1);
        let mut own = membership(5, "Mine", Role::Owner);
        own.owner_id = me;
        let mut records = vec![
            record(2, "Viewed", Role::Viewer, false),
            record(3, "Gone", Role::Editor, false),
            record(4, "Back", Role::Editor, true),
            record(6, "Old name", Role::Editor, false),
        ];
        let workspaces = [
            own,
            membership(2, "Viewed", Role::Editor),
            membership(4, "Back", Role::Editor),
            membership(6, "New name", Role::Editor),
            membership(7, "Blocked", Role::Viewer),
            membership(8, "New", Role::Viewer),
        ];
        let changes = plan(&mut records, &workspaces, me, |_, w| {
            (w.name == "Blocked").then(|| "in the way".to_owned())
        });
        assert_eq!(
            changes,
            [
                MountChange::End(record(3, "Gone", Role::Editor, true)),
                MountChange::Run {
                    record: record(2, "Viewed", Role::Editor, false),
                    restart: true
                },
                MountChange::Run {
                    record: record(4, "Back", Role::Editor, false),
                    restart: true
                },
                MountChange::End(record(6, "Old name", Role::Editor, true)),
                MountChange::Start(record(6, "New name", Role::Editor, false)),
                MountChange::Start(record(8, "New", Role::Viewer, false)),
            ]
        );
        assert_eq!(records.len(), 6, "{records:#?}");
        // Nothing changed: everything runs on, nothing restarts.
        let again = plan(&mut records, &workspaces, me, |_, _| None);
        assert!(
            again
                .iter()
                .all(|c| matches!(c, MountChange::Run { restart: false, .. })
                    || matches!(c, MountChange::Start(r) if r.name == "Blocked")),
            "{again:#?}"
        );
    }

    #[test]
    fn the_parent_ignores_everything_in_its_mounts() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(filter::IGNORE_FILE), "*.tmp\n").unwrap();
        std::fs::create_dir_all(root.path().join("Renamed share").join(META_DIR)).unwrap();
        std::fs::create_dir_all(root.path().join("docs").join(META_DIR)).unwrap();
        let names: MountNames = Arc::default();
        let ignored = ignoring_mounts(root.path(), names.clone());
        assert!(!ignored("Family", true));
        publish(
            &names,
            &[MountRecord {
                workspace_id: Uuid::nil(),
                name: "Family".into(),
                role: Role::Viewer,
                ended: true,
            }],
        );
        assert!(ignored("Family", true));
        assert!(ignored("Family/june/beach.txt", false));
        assert!(!ignored("Family photos", true));
        assert!(!ignored("docs/Family", true));
        assert!(ignored("docs/a.tmp", false));
        // A linked folder at the top, whatever its name.
        assert!(ignored("Renamed share", true));
        assert!(!ignored("docs/sub", true) && !ignored("docs/x.txt", false));
    }
}
