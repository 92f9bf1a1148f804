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
//! A mount is placed at its `mount_parent` (a folder of the parent's
//! workspace; the top when unset) under its name; a place the parent's own
//! workspace already uses (or an unlinked folder in the way) is not
//! mounted, so that nothing of the user's own is mixed into the share.
//!
//! A mount of an end-to-end encrypted workspace needs its passphrase: the
//! parent's source gives it (`nimbus sync`: asked on the terminal when the
//! mount starts, or the first line of standard input with
//! `--passphrase-stdin`, which then serves every encrypted mount). It is
//! checked against the workspace's key check and its keys kept in memory
//! for this run only, like those of a folder linked to an encrypted
//! workspace: no device stores a passphrase or a key. A mount whose
//! passphrase is missing or wrong is not synced (and not asked again) until
//! `nimbus sync` starts again; nothing is written to it meanwhile.
//!
//! The user's own workspaces that were folders of the parent
//! (`converted_from`, made by `nimbus share FOLDER`) are mounted the same
//! way, where the folder was. The parent's engine hands the folder's nodes
//! over ([`crate::engine::handoff`]); [`Mounts::reconcile`] seeds the
//! mount's state with them before it plans, so the mount starts in sync.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{EncryptionMode, Role, WorkspaceInfo};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::config::ConfigDir;
use crate::daemon::{self, Session, Target};
use crate::engine::{Handoff, Ignore, SiblingGroup, StateStore};
use crate::error::Error;
use crate::filter;
use crate::fs::META_DIR;
use crate::passphrase::{self, PassphraseSource};
use crate::state::SqliteStore;

/// The parent state's key of the mount records.
const MOUNTS_KEY: &str = "mounts";
/// A mount's own state key, set when its access ended.
pub const ACCESS_ENDED_KEY: &str = "access_ended";

/// One mount as the parent's state records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub workspace_id: Uuid,
    /// The folder's path in the sync folder (`docs/Photos`; at the top,
    /// its name).
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

/// The paths of the mounts in the parent folder, which its engine leaves alone.
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

/// Whether `path` is the mount at `mount` or inside it.
fn within(mount: &str, path: &str) -> bool {
    path.strip_prefix(mount)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The ignore rules of the folder `root` ([`filter::load`]), plus
/// everything in its mounts: the folders `names` holds, and any folder
/// that is linked itself (has a `.nimbus` marker), such as a mount the
/// user renamed, so that a share never slips into the user's own
/// workspace under another name.
pub fn ignoring_mounts(root: &Path, names: MountNames) -> Ignore {
    let base = filter::load(root);
    let root = root.to_owned();
    Arc::new(move |path: &str, is_folder: bool| {
        let linked = is_folder && root.join(path).join(META_DIR).is_dir();
        linked
            || names
                .read()
                .is_ok_and(|names| names.iter().any(|mount| within(mount, path)))
            || base(path, is_folder)
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
    /// Where the passphrases of encrypted mounts come from.
    passphrase: PassphraseSource,
    /// The keys of the encrypted mounts unlocked in this run.
    unlocked: BTreeMap<Uuid, WorkspaceKeys>,
    /// Encrypted mounts whose passphrase was missing or wrong in this run.
    locked: BTreeSet<Uuid>,
}

impl Mounts {
    pub fn new(
        config_dir: ConfigDir,
        user_id: Uuid,
        names: MountNames,
        siblings: SiblingGroup,
        passphrase: PassphraseSource,
    ) -> Self {
        Self {
            config_dir,
            user_id,
            names,
            siblings,
            running: BTreeMap::new(),
            passphrase,
            unlocked: BTreeMap::new(),
            locked: BTreeSet::new(),
        }
    }

    /// Starts and stops mounts to match the user's memberships, after
    /// giving the folders the parent handed off to their mounts.
    pub async fn reconcile(&mut self, parent: &mut Session) -> Result<(), Error> {
        self.take_handoffs(parent).await?;
        let parent = &*parent;
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
            |workspace| place(parent, workspace),
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
            let (record, restart) = match change {
                MountChange::End(_) => continue,
                MountChange::Run { record, restart } => (record, restart),
                MountChange::Start(record) => (record, false),
            };
            if restart {
                self.stop_one(record.workspace_id).await;
            }
            let workspace = workspaces
                .iter()
                .find(|w| w.workspace_id == record.workspace_id);
            if let Some(workspace) = workspace
                && !self.running.contains_key(&record.workspace_id)
            {
                self.start(parent, &record, workspace).await;
            }
        }
        Ok(())
    }

    /// Seeds the state of each folder the parent's engine handed off (its
    /// nodes, cursor 0) and records it as a mount, so that the parent keeps
    /// ignoring it; only then does the parent forget the hand-off. A crash
    /// on the way leaves the hand-off with the parent, and this runs again
    /// (a state seeded already is kept as it is).
    async fn take_handoffs(&mut self, parent: &mut Session) -> Result<(), Error> {
        for handoff in parent.engine.handoffs.clone() {
            let root = parent.root.join(&handoff.path);
            seed(&self.config_dir, &root, &handoff).await?;
            let mut records = records(&parent.store).await?;
            records.retain(|r| r.name != handoff.path);
            records.push(MountRecord {
                workspace_id: handoff.workspace_id,
                name: handoff.path.clone(),
                role: Role::Owner,
                ended: false,
            });
            save_records(&parent.store, &records).await?;
            publish(&self.names, &records);
            parent.engine.handoff_taken(handoff.workspace_id).await?;
            tracing::info!(folder = %root.display(), "a folder became a workspace of its own; synced as such from now on");
        }
        Ok(())
    }

    /// Opens the mount's folder and syncs it in a task of its own. A mount
    /// that cannot be opened now is tried again at the next reconcile.
    async fn start(&mut self, parent: &Session, record: &MountRecord, workspace: &WorkspaceInfo) {
        let root = parent.root.join(&record.name);
        // Other modes need no secret: the mount's session makes their keys.
        let keys = if workspace.encryption == EncryptionMode::Client {
            let Some(keys) = self.encrypted_keys(&root, workspace).await else {
                return;
            };
            Some(keys)
        } else {
            None
        };
        let target = Target {
            workspace_id: Some(record.workspace_id),
            keys,
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

    /// The keys of the end-to-end encrypted `workspace`, mounted at `root`,
    /// unlocked once per run (`None`, said once in the log, when its
    /// passphrase is missing or wrong).
    async fn encrypted_keys(
        &mut self,
        root: &Path,
        workspace: &WorkspaceInfo,
    ) -> Option<WorkspaceKeys> {
        let id = workspace.workspace_id;
        if let Some(keys) = self.unlocked.get(&id) {
            return Some(keys.clone());
        }
        if self.locked.contains(&id) {
            return None;
        }
        // Standard input has one first line: read once, it serves every mount.
        if matches!(self.passphrase, PassphraseSource::Stdin)
            && let Ok(given) = self.passphrase.existing(&workspace.name)
        {
            self.passphrase = PassphraseSource::Given(given);
        }
        match passphrase::unlock(workspace, &self.passphrase).await {
            Ok(keys) => {
                self.unlocked.insert(id, keys.clone());
                Some(keys)
            }
            Err(error) => {
                tracing::warn!(
                    folder = %root.display(),
                    %error,
                    "an end-to-end encrypted shared folder is not synced until `nimbus sync` \
                     starts again with its passphrase"
                );
                self.locked.insert(id);
                None
            }
        }
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
/// or a membership back after an end restarts the same folder. Mounted are
/// the workspaces of others shared with the user and the user's own that
/// were folders of the parent (`converted_from`), each at the path `place`
/// gives (`None`: not known yet, e.g. its parent folder not fetched; a
/// known mount then runs on where it is). A new mount that `in_the_way`
/// finds a reason against is left out until it is not. A pure decision:
/// the simulation runs it as the daemon does.
pub fn plan(
    records: &mut Vec<MountRecord>,
    workspaces: &[WorkspaceInfo],
    user_id: Uuid,
    place: impl Fn(&WorkspaceInfo) -> Option<String>,
    in_the_way: impl Fn(&[MountRecord], &WorkspaceInfo) -> Option<String>,
) -> Vec<MountChange> {
    let mounted: BTreeMap<Uuid, &WorkspaceInfo> = workspaces
        .iter()
        .filter(|w| !w.is_default && (w.owner_id != user_id || w.converted_from.is_some()))
        .map(|w| (w.workspace_id, w))
        .collect();
    let mut changes = Vec::new();
    for record in records.iter_mut().filter(|r| !r.ended) {
        if !mounted.contains_key(&record.workspace_id) {
            record.ended = true;
            changes.push(MountChange::End(record.clone()));
        }
    }
    for workspace in mounted.values() {
        let id = workspace.workspace_id;
        let Some(path) = place(workspace) else {
            // Where it goes is not known now: a running mount goes on.
            if let Some(record) = records
                .iter_mut()
                .find(|r| r.workspace_id == id && !r.ended)
            {
                let restart = record.role != workspace.role;
                record.role = workspace.role;
                changes.push(MountChange::Run {
                    record: record.clone(),
                    restart,
                });
            }
            continue;
        };
        let known = records
            .iter()
            .position(|r| r.workspace_id == id && r.name == path);
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
        // Renamed or moved on another device: the old folder is kept, not synced.
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
            name: path,
            role: workspace.role,
            ended: false,
        };
        records.push(record.clone());
        changes.push(MountChange::Start(record));
    }
    changes
}

/// The path of `workspace`'s mount in the parent folder: under its mount
/// parent (a folder of the parent's workspace, found by the parent's
/// engine), else at the top.
fn place(parent: &Session, workspace: &WorkspaceInfo) -> Option<String> {
    parent
        .engine
        .trees
        .remote
        .path_at(workspace.mount_parent, &workspace.name)
}

/// Why `workspace` cannot be mounted at its place now, if it cannot.
fn in_the_way(
    parent: &Session,
    records: &[MountRecord],
    workspace: &WorkspaceInfo,
) -> Option<String> {
    let path = place(parent, workspace)?;
    if records.iter().any(|r| r.name == path && r.ended) {
        return Some(format!(
            "the folder \"{path}\" of an ended share is still there; adopt or delete it \
             (`nimbus status` says how)"
        ));
    }
    let trees = &parent.engine.trees;
    if let Some(from) = workspace.converted_from
        && (trees.remote.contains(&from.folder_id) || trees.synced.contains(&from.folder_id))
    {
        return Some(format!(
            "\"{path}\" is still a folder of yours here; this device hands it over at its next fetch"
        ));
    }
    if trees.remote.id_at(&path).is_some() || trees.synced.id_at(&path).is_some() {
        return Some(format!(
            "your own workspace has \"{path}\" in the sync folder; rename that one"
        ));
    }
    let root = parent.root.join(&path);
    if root.exists() && !root.join(META_DIR).is_dir() {
        return Some(format!(
            "{} is in the way; move it elsewhere and it will be mounted",
            root.display()
        ));
    }
    None
}

/// Gives the folder `root`, handed off by its parent's engine, the state
/// its mount's engine starts from: the handed nodes at cursor 0, linked to
/// the new workspace. A folder linked already (seeded before a crash) is
/// left as it is.
async fn seed(config_dir: &ConfigDir, root: &Path, handoff: &Handoff) -> Result<(), Error> {
    let state_dir = config_dir.folder_dir(root);
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| Error::config(format!("{}: {e}", state_dir.display())))?;
    let store = SqliteStore::open(&state_dir.join("state.db")).await?;
    let seeded = async {
        if store.get("link_id").await?.is_some() {
            return Ok(());
        }
        store.save(&mut handoff.trees(), 0).await?;
        daemon::link(&store, root, handoff.workspace_id)
            .await
            .map(|_| ())
    }
    .await;
    store.close().await;
    seeded
}

/// The parent folder of the ended mount at `path` (the nearest folder
/// above it whose state records it), with its records and its index.
pub async fn find(
    config_dir: &ConfigDir,
    path: &Path,
) -> Result<(SqliteStore, Vec<MountRecord>, usize, PathBuf), Error> {
    let mount =
        std::path::absolute(path).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    for parent in mount.ancestors().skip(1) {
        let state = config_dir.folder_dir(parent).join("state.db");
        let Some(name) = mount
            .strip_prefix(parent)
            .ok()
            .and_then(|relative| relative.to_str())
        else {
            continue;
        };
        if !state.is_file() {
            continue;
        }
        let name = name.replace('\\', "/");
        let store = SqliteStore::open(&state).await?;
        let records = records(&store).await?;
        if let Some(index) = records.iter().position(|r| r.name == name && r.ended) {
            return Ok((store, records, index, mount));
        }
        store.close().await;
    }
    Err(Error::config(format!(
        "{} is not the folder of a share whose access ended; `nimbus status` lists them",
        mount.display()
    )))
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
    use nimbus_protocol::rpc::{ConvertedFrom, EncryptionMode};

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
            converted_from: None,
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
        let at_top = |w: &WorkspaceInfo| Some(w.name.clone());
        let changes = plan(&mut records, &workspaces, me, at_top, |_, w| {
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
        let again = plan(&mut records, &workspaces, me, at_top, |_, _| None);
        assert!(
            again
                .iter()
                .all(|c| matches!(c, MountChange::Run { restart: false, .. })
                    || matches!(c, MountChange::Start(r) if r.name == "Blocked")),
            "{again:#?}"
        );
    }

    #[test]
    fn own_converted_folders_are_mounted_where_they_were() {
        let me = Uuid::from_u128(1);
        let own = |id: u128, name: &str, converted: bool| {
            let mut w = membership(id, name, Role::Owner);
            w.owner_id = me;
            w.mount_parent = Some(Uuid::from_u128(50));
            w.converted_from = converted.then_some(ConvertedFrom {
                workspace_id: Uuid::from_u128(60),
                folder_id: Uuid::from_u128(id + 100),
            });
            w
        };
        // "Synced elsewhere" was made by `workspace create`: synced in a
        // folder of its own, never mounted.
        let workspaces = [own(2, "Photos", true), own(3, "Synced elsewhere", false)];
        let in_docs = |w: &WorkspaceInfo| Some(format!("docs/{}", w.name));
        // Handed off on this device: recorded at its place, runs on.
        let mut records = vec![record(2, "docs/Photos", Role::Owner, false)];
        let changes = plan(&mut records, &workspaces, me, in_docs, |_, _| None);
        assert_eq!(
            changes,
            [MountChange::Run {
                record: record(2, "docs/Photos", Role::Owner, false),
                restart: false
            }]
        );
        // Another device of the owner's, which never had the folder.
        let mut records = Vec::new();
        let changes = plan(&mut records, &workspaces, me, in_docs, |_, _| None);
        assert_eq!(
            changes,
            [MountChange::Start(record(
                2,
                "docs/Photos",
                Role::Owner,
                false
            ))]
        );
        // Its parent folder not known here yet: a known mount goes on, none
        // is ended or started.
        let unknown = |_: &WorkspaceInfo| None;
        let changes = plan(&mut records, &workspaces, me, unknown, |_, _| None);
        assert_eq!(
            changes,
            [MountChange::Run {
                record: record(2, "docs/Photos", Role::Owner, false),
                restart: false
            }]
        );
        let mut none = Vec::new();
        assert!(plan(&mut none, &workspaces, me, unknown, |_, _| None).is_empty());
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
        // A linked folder, whatever its name and depth.
        assert!(ignored("Renamed share", true));
        std::fs::create_dir_all(root.path().join("docs/Photos").join(META_DIR)).unwrap();
        assert!(ignored("docs/Photos", true));
        // A mount inside a folder, and what it holds.
        publish(
            &names,
            &[MountRecord {
                workspace_id: Uuid::nil(),
                name: "notes/Shared".into(),
                role: Role::Owner,
                ended: false,
            }],
        );
        assert!(ignored("notes/Shared", true) && ignored("notes/Shared/a.txt", false));
        assert!(!ignored("notes/Shared 2", true) && !ignored("notes", true));
        assert!(!ignored("docs/sub", true) && !ignored("docs/x.txt", false));
    }
}
