//! Seeded deterministic simulation of the sync engine (CanopyCheck/Trinity
//! style): several devices with in-memory file systems and state stores,
//! one in-memory server that applies the real server's commit rules
//! (`nimbus_server::commit_plan`), random user operations, random
//! interleavings of scans, fetches and batches, lost replies, crashes that
//! lose unsaved state, then quiescence. Asserts that all devices converge to
//! the server's tree and that every byte a user wrote and did not itself
//! overwrite or delete survives as a file or a conflicted copy.
//!
//! In half of the seeds the last device's disk is case-insensitive (like
//! macOS and Windows): there, names the server holds in two cases show up
//! once, and every server item missing from that disk must be one the
//! device reports as "not synced here" because a sibling whose name
//! differs only in case holds its name.
//!
//! The random histories have two users. Each has a default workspace and
//! one more of their own, synced by all their devices, which the owner
//! offers to the other with a role; among the random steps are offers,
//! acceptances, role changes (editor and viewer), removals and leaving. A
//! device learns of them as `Mounts::reconcile` does (at random steps and
//! before each sweep): an accepted share is mounted as a folder with an
//! engine of its own, read-only for a viewer; a role change restarts that
//! engine; an ended access stops it and leaves the files on disk. Which
//! of these happen is decided by the client's own `mounts::plan`. The
//! server refuses a viewer's commit and a former member's every request.
//! Also asserted: every device with access converges to the workspace's
//! tree (a viewer's up to its own edits, which stay on its disk and are
//! never sent), an ended mount's files stay as they were until the user
//! changes them, and no byte reaches a workspace other than the one of the
//! folder it was written in (a share's files never reach the member's own).
//!
//! `NIMBUS_SIM_SEEDS=N` runs N seeds (default 300); `NIMBUS_SIM_SEED=S`
//! replays one seed with a trace.

mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::executor::block_on;
use nimbus_client::Error;
use nimbus_client::engine::{
    Engine, Handoff, Ignore, Op, PendingCommit, PlanContext, StateStore, Tree, Trees, plan,
};
use nimbus_client::fs::{Fs, MemFs, case_fold};
use nimbus_client::mounts::{self, MountChange, MountRecord};
use nimbus_client::remote::Clock;
use nimbus_protocol::rpc::{Revision, Role};
use server::{Proposal, SimRemote, SimServer};
use uuid::Uuid;

/// splitmix64: small, fast, and the same on every platform and version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len())])
        }
    }
}

/// Deterministic time and ids per device.
struct SimClock {
    device: u128,
    counter: Mutex<u128>,
}

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        1_800_000_000_000 + *self.counter.lock().unwrap() as i64 * 1000
    }
    fn new_id(&self) -> Uuid {
        let mut counter = self.counter.lock().unwrap();
        *counter += 1;
        Uuid::from_u128((self.device << 64) | *counter)
    }
}

/// What a device persisted, as of its last save.
#[derive(Clone, Default)]
struct Saved {
    trees: Trees,
    cursor: Revision,
    pending: Option<PendingCommit>,
    handoffs: Vec<Handoff>,
}

#[derive(Clone, Default)]
struct MemStore(Arc<Mutex<Saved>>);

#[async_trait]
impl StateStore for MemStore {
    async fn save(&self, trees: &mut Trees, cursor: Revision) -> Result<(), Error> {
        let mut saved = self.0.lock().unwrap();
        saved.trees = trees.clone();
        saved.cursor = cursor;
        Ok(())
    }
    async fn set_pending(&self, pending: Option<&PendingCommit>) -> Result<(), Error> {
        self.0.lock().unwrap().pending = pending.cloned();
        Ok(())
    }
    async fn set_handoffs(&self, handoffs: &[Handoff]) -> Result<(), Error> {
        self.0.lock().unwrap().handoffs = handoffs.to_vec();
        Ok(())
    }
    async fn set_status(&self, _key: &str, _value: &str) -> Result<(), Error> {
        Ok(())
    }
}

/// A folder a device syncs: its user's default workspace, a workspace the
/// user owns, or a mount of one shared with them.
struct Folder {
    workspace: Uuid,
    fs: MemFs,
    store: MemStore,
    clock: Arc<SimClock>,
    remote: SimRemote,
    engine: Engine<MemFs, SimRemote>,
    /// A mount's record as the parent's state keeps it (`None` for a
    /// folder the user linked themselves).
    mount: Option<MountRecord>,
    /// An ended mount's files when access ended, until the user changes
    /// them: what must still be on its disk.
    kept: Option<BTreeMap<String, Option<Vec<u8>>>>,
}

impl Folder {
    fn role(&self) -> Role {
        self.mount.as_ref().map_or(Role::Owner, |m| m.role)
    }

    fn ended(&self) -> bool {
        self.mount.as_ref().is_some_and(|m| m.ended)
    }

    /// Loses everything not saved and starts again from the store, with the
    /// rights of its role (as `daemon::open_target` does).
    fn boot(&mut self, device: &str, index: usize, server: &SimServer, user: usize) {
        (self.remote, self.engine) = engine(
            device,
            index,
            server,
            user,
            self.workspace,
            self.role(),
            &self.fs,
            &self.store,
            &self.clock,
        );
    }
}

/// A folder's engine started from its store, and its remote.
#[allow(clippy::too_many_arguments)]
fn engine(
    device: &str,
    index: usize,
    server: &SimServer,
    user: usize,
    workspace: Uuid,
    role: Role,
    fs: &MemFs,
    store: &MemStore,
    clock: &Arc<SimClock>,
) -> (SimRemote, Engine<MemFs, SimRemote>) {
    let read_only = !role.can_write();
    let remote = server.remote(index, user, workspace, read_only);
    let saved = store.0.lock().unwrap().clone();
    let mut engine = Engine::new(
        fs.clone(),
        remote.clone(),
        Box::new(store.clone()),
        clock.clone(),
        device.to_owned(),
        ignore_rules(),
        saved.trees,
        saved.cursor,
        saved.pending,
    );
    engine.read_only = read_only;
    engine.handoffs = saved.handoffs;
    engine.upload_concurrency = 1;
    // Several commits per batch of uploads, as with many files.
    engine.commit_batch = 3;
    (remote, engine)
}

struct Device {
    name: String,
    index: usize,
    user: usize,
    case_insensitive: bool,
    /// The default workspace's folder first.
    folders: Vec<Folder>,
}

fn ignore_rules() -> Ignore {
    Arc::new(|path: &str, _| {
        let name = path.rsplit('/').next().unwrap_or(path);
        name.ends_with(".swp") || name.ends_with('~')
    })
}

impl Device {
    fn new(
        index: usize,
        user: usize,
        server: &SimServer,
        case_insensitive: bool,
        workspaces: &[Uuid],
    ) -> Self {
        let mut device = Self {
            name: format!("dev{index}"),
            index,
            user,
            case_insensitive,
            folders: Vec::new(),
        };
        for workspace in workspaces {
            device.add_folder(server, *workspace, None);
        }
        device
    }

    fn add_folder(&mut self, server: &SimServer, workspace: Uuid, mount: Option<MountRecord>) {
        let fs = if self.case_insensitive {
            MemFs::case_insensitive()
        } else {
            MemFs::new()
        };
        let clock = Arc::new(SimClock {
            device: ((self.index as u128 + 1) << 16) | self.folders.len() as u128,
            counter: Mutex::new(0),
        });
        let store = MemStore::default();
        let role = mount.as_ref().map_or(Role::Owner, |m| m.role);
        let (remote, engine) = engine(
            &self.name, self.index, server, self.user, workspace, role, &fs, &store, &clock,
        );
        let folder = Folder {
            workspace,
            fs,
            store,
            clock,
            remote,
            engine,
            mount,
            kept: None,
        };
        self.folders.push(folder);
    }

    /// Loses everything not saved and starts again from the stores.
    fn crash(&mut self, server: &SimServer) {
        for folder in &mut self.folders {
            folder.boot(&self.name, self.index, server, self.user);
        }
    }

    /// Starts and stops mounts to match the user's memberships, as
    /// `Mounts::reconcile` does, by its decisions (`mounts::plan`): an
    /// ended mount's engine stops and its files stay; a restart loads the
    /// engine again with the new role's rights. Nothing is in the way of a
    /// mount here: each has a file system of its own. Returns what changed.
    fn reconcile(&mut self, server: &SimServer) -> Vec<MountChange> {
        let mut records: Vec<MountRecord> = self
            .folders
            .iter()
            .filter_map(|f| f.mount.clone())
            .collect();
        let workspaces = server.workspaces_of(self.user);
        let changes = mounts::plan(
            &mut records,
            &workspaces,
            server::user_id(self.user),
            |workspace| Some(workspace.name.clone()),
            |_, _| None,
        );
        for change in &changes {
            let (record, restart) = match change {
                MountChange::Start(record) => {
                    self.add_folder(server, record.workspace_id, Some(record.clone()));
                    continue;
                }
                MountChange::End(record) => (record, false),
                MountChange::Run { record, restart } => (record, *restart),
            };
            let folder = self
                .folders
                .iter_mut()
                .find(|f| {
                    f.mount.as_ref().is_some_and(|m| {
                        m.workspace_id == record.workspace_id && m.name == record.name
                    })
                })
                .expect("a recorded mount has a folder");
            folder.mount = Some(record.clone());
            if record.ended {
                folder.kept = Some(folder.fs.snapshot());
            } else if restart {
                folder.kept = None;
                folder.boot(&self.name, self.index, server, self.user);
            }
        }
        changes
    }
}

/// The workspace each user owns besides their default one, to share.
fn owned_workspace(user: usize) -> Uuid {
    Uuid::from_u128(0xB000 + user as u128)
}

/// The default workspace of `user`.
fn default_workspace(user: usize) -> Uuid {
    if user == 0 {
        server::WORKSPACE
    } else {
        Uuid::from_u128(0xA000 + user as u128)
    }
}

/// Sharing steps taken, over all seeds run.
#[derive(Debug, Default, Clone, Copy)]
struct ShareCounts {
    proposed: u64,
    accepted: u64,
    role_changes: u64,
    removed: u64,
    left: u64,
    mounts_started: u64,
    mounts_ended: u64,
}

struct World {
    rng: Rng,
    server: SimServer,
    devices: Vec<Device>,
    /// Contents users wrote and did not themselves supersede.
    must_survive: BTreeSet<Vec<u8>>,
    /// The workspace of the folder each content was written in: the only
    /// one it may reach.
    written_in: BTreeMap<Vec<u8>, Uuid>,
    writes: u64,
    /// Two users who share workspaces with each other.
    sharing: bool,
    shares: ShareCounts,
    trace: Vec<String>,
}

const FILE_NAMES: &[&str] = &["a.txt", "b.txt", "A.txt", "ü名.md", "c", ".vimrc", "x.swp"];
const FOLDER_NAMES: &[&str] = &["docs", "src", "Ωmega", "Docs", "ΩMEGA"];

impl World {
    /// `devices` devices, all with case-sensitive disks.
    fn new(seed: u64, devices: usize) -> Self {
        Self::with_disks(seed, &vec![false; devices])
    }

    /// One user, one device per entry: whether its disk is case-insensitive.
    fn with_disks(seed: u64, case_insensitive: &[bool]) -> Self {
        let server = SimServer::new();
        Self {
            rng: Rng(seed),
            devices: case_insensitive
                .iter()
                .enumerate()
                .map(|(i, ci)| Device::new(i, 0, &server, *ci, &[server::WORKSPACE]))
                .collect(),
            server,
            must_survive: BTreeSet::new(),
            written_in: BTreeMap::new(),
            writes: 0,
            sharing: false,
            shares: ShareCounts::default(),
            trace: Vec::new(),
        }
    }

    /// Two users, each with a default workspace and one more they own
    /// (synced by all their devices) and may share with the other; the
    /// first user's devices have the disks `case_insensitive` describes,
    /// the second user's enough case-sensitive ones to make four.
    fn two_users(seed: u64, case_insensitive: &[bool]) -> Self {
        let mut world = Self::with_disks(seed, &[]);
        world.sharing = true;
        let server = &world.server;
        server.create_workspace(default_workspace(1), 1, "default", true);
        for user in 0..2 {
            server.create_workspace(
                owned_workspace(user),
                user,
                &format!("projects of {user}"),
                false,
            );
        }
        let second_user = vec![false; 4usize.saturating_sub(case_insensitive.len()).max(1)];
        let disks = case_insensitive
            .iter()
            .map(|ci| (0, *ci))
            .chain(second_user.into_iter().map(|ci| (1, ci)));
        for (index, (user, ci)) in disks.enumerate() {
            let workspaces = [default_workspace(user), owned_workspace(user)];
            world
                .devices
                .push(Device::new(index, user, server, ci, &workspaces));
        }
        world
    }

    fn log(&mut self, line: String) {
        self.trace.push(line);
    }

    fn user_op(&mut self, d: usize) {
        let f = self.rng.below(self.devices[d].folders.len());
        let folder = &mut self.devices[d].folders[f];
        let (fs, workspace) = (folder.fs.clone(), folder.workspace);
        // An ended mount's files are plain files the user may change.
        folder.kept = None;
        let snapshot = fs.snapshot();
        let folders: Vec<String> = snapshot
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let files: Vec<String> = snapshot
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        let mut parents: Vec<Option<String>> = vec![None];
        parents.extend(folders.iter().cloned().map(Some));
        let join = |parent: &Option<String>, name: &str| match parent {
            Some(p) => format!("{p}/{name}"),
            None => name.to_owned(),
        };
        // What a path names on this disk (in any case if it ignores case).
        let key = |path: &str| {
            if fs.case_insensitive() {
                case_fold(path)
            } else {
                path.to_owned()
            }
        };
        let supersede = |world: &mut World, path: &str| {
            let path = key(path);
            for (p, content) in &snapshot {
                let p = key(p);
                if (p == path || p.starts_with(&format!("{path}/")))
                    && let Some(content) = content
                {
                    world.must_survive.remove(content);
                }
            }
        };
        // The paths a file watcher would name.
        let mut changed: Vec<String> = Vec::new();
        match self.rng.below(10) {
            0..=2 => {
                // create or overwrite a file
                let parent = self.rng.pick(&parents).cloned().flatten();
                let name = *self.rng.pick(FILE_NAMES).unwrap();
                let path = join(&parent, name);
                if self.write(d, &fs, workspace, &path, &snapshot, supersede) {
                    changed.push(path);
                }
            }
            3 | 4 => {
                if let Some(path) = self.rng.pick(&files).cloned()
                    && self.write(d, &fs, workspace, &path, &snapshot, supersede)
                {
                    changed.push(path);
                }
            }
            5 => {
                let parent = self.rng.pick(&parents).cloned().flatten();
                let path = join(&parent, self.rng.pick(FOLDER_NAMES).unwrap());
                if fs.user_mkdir(&path) {
                    self.log(format!("{d}: mkdir {path}"));
                    changed.push(path);
                }
            }
            6 => {
                let all: Vec<String> = snapshot.keys().cloned().collect();
                if let Some(path) = self.rng.pick(&all).cloned() {
                    supersede(self, &path);
                    if fs.user_delete(&path) {
                        self.log(format!("{d}: delete {path}"));
                        changed.push(path);
                    }
                }
            }
            _ => {
                // rename or move a file or folder
                let all: Vec<String> = snapshot.keys().cloned().collect();
                if let Some(from) = self.rng.pick(&all).cloned() {
                    let is_folder = snapshot[&from].is_none();
                    let parent = self.rng.pick(&parents).cloned().flatten();
                    let name = if is_folder {
                        *self.rng.pick(FOLDER_NAMES).unwrap()
                    } else {
                        *self.rng.pick(FILE_NAMES).unwrap()
                    };
                    let to = join(&parent, name);
                    if fs.user_rename(&from, &to) {
                        self.log(format!("{d}: rename {from} -> {to}"));
                        changed.extend([from, to]);
                    }
                }
            }
        }
        self.devices[d].folders[f].engine.scan_hints.extend(changed);
    }

    fn write(
        &mut self,
        d: usize,
        fs: &MemFs,
        workspace: Uuid,
        path: &str,
        snapshot: &BTreeMap<String, Option<Vec<u8>>>,
        supersede: impl Fn(&mut World, &str),
    ) -> bool {
        if snapshot.get(path).is_some_and(Option::is_none) {
            return false;
        }
        self.writes += 1;
        let content = if self.rng.chance(5) {
            Vec::new()
        } else {
            format!(
                "d{d} write {} {}",
                self.writes,
                "x".repeat(self.rng.below(40))
            )
            .into_bytes()
        };
        if fs.user_write(path, &content) {
            supersede(self, path);
            // Empty files have no bytes to lose (and are not unique).
            if !path.ends_with(".swp") && !content.is_empty() {
                self.must_survive.insert(content.clone());
            }
            if !content.is_empty() {
                self.written_in.insert(content, workspace);
            }
            self.log(format!("{d}: write {path} #{}", self.writes));
            return true;
        }
        false
    }

    fn device_step(&mut self, d: usize) {
        if self.sharing && self.rng.chance(10) {
            self.reconcile(d);
            return;
        }
        let active: Vec<usize> = (0..self.devices[d].folders.len())
            .filter(|f| !self.devices[d].folders[*f].ended())
            .collect();
        let f = *self
            .rng
            .pick(&active)
            .expect("the default folder is never a mount");
        let choice = self.rng.below(10);
        let crash_after = self.rng.chance(8);
        let lose_reply = self.rng.chance(5);
        let save = self.rng.chance(50);
        let partial = self.rng.next();
        let device = &mut self.devices[d].folders[f];
        let result: Result<String, Error> = block_on(async {
            match choice {
                // A scan of what the watcher named, or of everything.
                0 => device
                    .engine
                    .observe_hinted()
                    .await
                    .map(|c| format!("scan hinted {c}")),
                1..=2 => device
                    .engine
                    .observe_local()
                    .await
                    .map(|c| format!("scan {c}")),
                3..=4 => device
                    .engine
                    .fetch_remote()
                    .await
                    .map(|c| format!("fetch {c}")),
                _ => {
                    device.engine.resume_pending().await?;
                    let ops = device.engine.plan();
                    let n = ops.len();
                    let ops = if crash_after && n > 1 {
                        ops.into_iter().take(1 + (partial as usize % n)).collect()
                    } else {
                        ops
                    };
                    device.remote.lose_next_reply(lose_reply);
                    let described = format!("{ops:?}");
                    device.engine.execute(ops).await?;
                    if save {
                        device.engine.save().await?;
                    }
                    Ok(format!("exec {described}"))
                }
            }
        });
        device.remote.lose_next_reply(false);
        let line = match result {
            Ok(line) => line,
            Err(error) => format!("error {error}"),
        };
        self.log(format!("{d}/{f}: {line}"));
        if crash_after {
            self.devices[d].crash(&self.server);
            self.log(format!("{d}: crash"));
        }
    }

    /// What `Mounts::reconcile` does when device `d` hears of a change.
    fn reconcile(&mut self, d: usize) {
        for change in self.devices[d].reconcile(&self.server) {
            match &change {
                MountChange::End(_) => self.shares.mounts_ended += 1,
                MountChange::Start(_) => self.shares.mounts_started += 1,
                MountChange::Run { restart: false, .. } => continue,
                MountChange::Run { .. } => {}
            }
            self.log(format!("{d}: {change:?}"));
        }
    }

    /// A random sharing step on one of the shareable workspaces: an offer,
    /// its acceptance, a role change, a removal or a member leaving.
    fn share_op(&mut self) {
        let workspace = owned_workspace(self.rng.below(2));
        let owner = self.server.owner(workspace);
        let other = 1 - owner;
        let members = self.server.members(workspace);
        let pending = self
            .server
            .proposals()
            .iter()
            .position(|p| p.workspace == workspace);
        let line = match (members.first(), pending) {
            (None, None) => {
                let role = if self.rng.chance(50) {
                    Role::Editor
                } else {
                    Role::Viewer
                };
                let proposal = Proposal {
                    workspace,
                    to: other,
                    role,
                };
                assert!(self.server.propose(owner, proposal));
                self.shares.proposed += 1;
                format!("{owner} offers {workspace} to {other} as {role:?}")
            }
            (None, Some(index)) => {
                let accepted = self.server.accept(index);
                self.shares.accepted += 1;
                format!("{other} accepts {workspace} as {:?}", accepted.role)
            }
            (Some(&(member, role)), _) => match self.rng.below(3) {
                0 => {
                    let role = if role == Role::Editor {
                        Role::Viewer
                    } else {
                        Role::Editor
                    };
                    self.server.set_role(workspace, member, role);
                    self.shares.role_changes += 1;
                    format!("{owner} makes {member} {role:?} of {workspace}")
                }
                1 => {
                    self.server.end_membership(workspace, member);
                    self.shares.removed += 1;
                    format!("{owner} removes {member} from {workspace}")
                }
                _ => {
                    self.server.end_membership(workspace, member);
                    self.shares.left += 1;
                    format!("{member} leaves {workspace}")
                }
            },
        };
        self.log(line);
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            if self.sharing && self.rng.chance(4) {
                self.share_op();
                continue;
            }
            let d = self.rng.below(self.devices.len());
            if self.rng.chance(45) {
                self.user_op(d);
            } else {
                self.device_step(d);
            }
        }
    }

    /// One full round on each folder device `d` syncs, which must end
    /// quiet; returns how many operations they ran.
    fn sync_device(&mut self, d: usize) -> usize {
        let mut ops = 0;
        for (f, folder) in self.devices[d].folders.iter_mut().enumerate() {
            if folder.ended() {
                continue;
            }
            let engine = &mut folder.engine;
            engine.need_scan = true;
            engine.need_fetch = true;
            let round = block_on(engine.sync_round())
                .unwrap_or_else(|e| panic!("device {d} failed to sync folder {f}: {e}"));
            if !round.quiet {
                eprintln!("plan: {:?}", engine.plan());
                dump(&engine.trees);
            }
            assert!(
                round.quiet,
                "device {d} did not reach a quiet state in folder {f} within the pass limit"
            );
            ops += round.ops;
        }
        ops
    }

    /// Syncs every device until a full sweep does nothing.
    fn quiesce(&mut self) {
        for sweep in 0..40 {
            let mut busy = false;
            for d in 0..self.devices.len() {
                if self.sharing {
                    self.reconcile(d);
                }
                busy |= self.sync_device(d) > 0;
            }
            if !busy {
                self.log(format!("quiet after {sweep} sweeps"));
                return;
            }
        }
        panic!("no quiescence after 40 sweeps");
    }

    fn check(&self) {
        for device in &self.devices {
            for folder in &device.folders {
                self.check_folder(device, folder);
            }
        }
        // Every byte on a workspace was written in a folder of that
        // workspace: nothing of a share (ended or not) reaches the member's
        // own workspace, nor the reverse.
        let workspaces: BTreeSet<Uuid> = self
            .devices
            .iter()
            .flat_map(|d| d.folders.iter().map(|f| f.workspace))
            .collect();
        let mut server_files = Vec::new();
        for workspace in &workspaces {
            let files = self.server.live_files_of(*workspace);
            for (path, bytes) in &files {
                let written_in = bytes.as_ref().and_then(|b| self.written_in.get(b));
                assert!(
                    written_in.is_none_or(|w| w == workspace),
                    "{path} of workspace {workspace} holds bytes written in workspace {written_in:?}"
                );
            }
            server_files.push(files);
        }
        // Bytes a user moved into an ignored file stay on that disk; a
        // viewer's edits and an ended mount's files stay on theirs.
        let disks: Vec<_> = self
            .devices
            .iter()
            .flat_map(|d| d.folders.iter().map(|f| f.fs.snapshot()))
            .collect();
        let present: BTreeSet<&Vec<u8>> = server_files
            .iter()
            .flat_map(|files| files.values())
            .chain(disks.iter().flat_map(|disk| disk.values()))
            .flatten()
            .collect();
        for content in &self.must_survive {
            if !present.contains(content) {
                for device in &self.devices {
                    for (f, folder) in device.folders.iter().enumerate() {
                        eprintln!("{} folder {f}:", device.name);
                        dump(&folder.engine.trees);
                    }
                }
            }
            assert!(
                present.contains(content),
                "lost bytes: {:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    /// A folder with access matches its workspace on the server; a
    /// viewer's has nothing of the server left to apply, and differs only
    /// by its own edits; an ended mount still holds its files.
    fn check_folder(&self, device: &Device, folder: &Folder) {
        let name = &device.name;
        if folder.ended() {
            if let Some(kept) = &folder.kept {
                assert_eq!(
                    &folder.fs.snapshot(),
                    kept,
                    "{name}: the files of an ended mount changed"
                );
            }
            return;
        }
        let server_tree = self.server.live_files_of(folder.workspace);
        let engine = &folder.engine;
        if engine.read_only {
            let hashes = |tree: &Tree| -> BTreeMap<String, Option<String>> {
                tree.ids()
                    .map(|id| (tree.path(id).unwrap(), tree.get(id).unwrap().hash.clone()))
                    .collect()
            };
            let on_server: BTreeMap<String, Option<String>> = server_tree
                .iter()
                .map(|(path, bytes)| (path.clone(), bytes.as_deref().map(server::hash_of)))
                .collect();
            assert_eq!(
                hashes(&engine.trees.remote),
                on_server,
                "{name}: a viewer's mount does not know the server's tree"
            );
            // What it would do if it could write: only commits of its edits.
            let stuck = engine.stuck.keys().copied().collect();
            let left = plan(
                &engine.trees,
                &PlanContext {
                    device: &engine.device,
                    now_ms: engine.clock.now_ms(),
                    ignored: &*engine.ignore,
                    stuck: &stuck,
                    case_insensitive: folder.fs.case_insensitive(),
                },
            );
            assert!(
                left.iter().all(|op| matches!(op, Op::Commit(_))),
                "{name}: a viewer's mount has more than its own edits left: {left:?}"
            );
            return;
        }
        let mut disk = folder.fs.snapshot();
        disk.retain(|path, _| !path.rsplit('/').next().unwrap().ends_with(".swp"));
        let expected = if folder.fs.case_insensitive() {
            check_case_clashes(name, engine, &disk, &server_tree)
        } else {
            server_tree
        };
        if disk != expected {
            dump(&engine.trees);
        }
        assert_eq!(disk, expected, "{name} does not match the server");
    }
}

/// On a case-insensitive disk, the server items that are missing must be
/// exactly those under an item the device reports as a case clash, each of
/// which has a sibling on disk whose name differs only in case. Returns the
/// server tree without them: what the disk must be.
fn check_case_clashes(
    name: &str,
    engine: &Engine<MemFs, SimRemote>,
    disk: &BTreeMap<String, Option<Vec<u8>>>,
    server_tree: &BTreeMap<String, Option<Vec<u8>>>,
) -> BTreeMap<String, Option<Vec<u8>>> {
    let reported: BTreeSet<String> = engine
        .case_clashes()
        .into_iter()
        .map(|clash| {
            let message = clash.to_string();
            assert!(
                message.contains("not synced here: name differs only in case from"),
                "{message}"
            );
            clash.path
        })
        .collect();
    // The topmost missing server path of each missing subtree.
    let missing: BTreeSet<String> = server_tree
        .keys()
        .filter(|path| !disk.contains_key(*path))
        .filter(|path| parent_path(path).is_none_or(|parent| disk.contains_key(parent)))
        .cloned()
        .collect();
    assert_eq!(
        missing, reported,
        "{name}: the server items missing from its case-insensitive disk are not the ones it reports"
    );
    for path in &missing {
        let parent = parent_path(path);
        let holder = disk.keys().find(|other| {
            *other != path && parent_path(other) == parent && case_fold(other) == case_fold(path)
        });
        assert!(
            holder.is_some(),
            "{name}: {path} is missing but no name differing only in case holds it"
        );
    }
    server_tree
        .iter()
        .filter(|(path, _)| {
            !missing
                .iter()
                .any(|top| *path == top || path.starts_with(&format!("{top}/")))
        })
        .map(|(path, bytes)| (path.clone(), bytes.clone()))
        .collect()
}

fn parent_path(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// Prints every item on which the three trees disagree.
fn dump(trees: &Trees) {
    let ids: BTreeSet<Uuid> = trees
        .local
        .ids()
        .chain(trees.remote.ids())
        .chain(trees.synced.ids())
        .copied()
        .collect();
    for id in ids {
        let show = |t: &nimbus_client::engine::Tree| {
            t.get(&id).map(|n| {
                format!(
                    "{} v{} {:?}",
                    t.path(&id)
                        .unwrap_or_else(|| format!("<orphan {}>", n.name)),
                    n.version,
                    n.hash.as_deref().map(|h| &h[7..13])
                )
            })
        };
        let (l, s, r) = (show(&trees.local), show(&trees.synced), show(&trees.remote));
        eprintln!("{id}: L={l:?}\n    S={s:?}\n    R={r:?}");
    }
}

/// The disks of a seed's devices: 2 or 3, the last one case-insensitive in
/// half of the seeds.
fn disks(seed: u64) -> Vec<bool> {
    let devices = 2 + (seed % 2) as usize;
    let last_insensitive = seed % 4 >= 2;
    (0..devices)
        .map(|i| last_insensitive && i == devices - 1)
        .collect()
}

/// A seed's world: two users on the disks of [`disks`].
fn world_of(seed: u64) -> World {
    World::two_users(seed, &disks(seed))
}

/// Random activity, convergence, then more activity and convergence again.
/// Steps are spread over each device's folders (two or three), hence more
/// of them than with one folder per device.
fn play(world: &mut World) {
    world.run(160);
    world.quiesce();
    world.check();
    world.log("phase two".into());
    world.run(80);
    world.quiesce();
    world.check();
}

/// A seed's history: the first user's default workspace, the trace, and
/// the sharing steps taken.
type History = (BTreeMap<String, Option<Vec<u8>>>, Vec<String>, ShareCounts);

fn run_seed(seed: u64) -> History {
    let mut world = world_of(seed);
    play(&mut world);
    (world.server.live_files(), world.trace, world.shares)
}

fn run_or_report(seed: u64) -> History {
    match std::panic::catch_unwind(|| run_seed(seed)) {
        Ok(result) => result,
        Err(panic) => {
            eprintln!(
                "simulation failed for seed {seed}; replay with NIMBUS_SIM_SEED={seed} cargo test -p nimbus-client --test sim -- --nocapture"
            );
            std::panic::resume_unwind(panic)
        }
    }
}

#[test]
fn random_histories_converge_without_losing_bytes() {
    if let Ok(seed) = std::env::var("NIMBUS_SIM_SEED") {
        let seed: u64 = seed.parse().expect("a number");
        // Replayed in the open, for the trace.
        let mut world = world_of(seed);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| play(&mut world)));
        if let Err(panic) = outcome {
            for line in &world.trace {
                eprintln!("{line}");
            }
            std::panic::resume_unwind(panic);
        }
        return;
    }
    let seeds: u64 = std::env::var("NIMBUS_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut total = ShareCounts::default();
    for seed in 0..seeds {
        let (_, _, shares) = run_or_report(seed);
        total.proposed += shares.proposed;
        total.accepted += shares.accepted;
        total.role_changes += shares.role_changes;
        total.removed += shares.removed;
        total.left += shares.left;
        total.mounts_started += shares.mounts_started;
        total.mounts_ended += shares.mounts_ended;
    }
    eprintln!("{seeds} seeds, sharing steps: {total:?}");
    assert!(
        seeds < 20 || (total.accepted > 0 && total.role_changes > 0 && total.mounts_ended > 0),
        "the histories share too little: {total:?}"
    );
}

#[test]
fn the_same_seed_gives_the_same_history() {
    for seed in [3, 17, 42] {
        let first = run_or_report(seed);
        let second = run_or_report(seed);
        assert_eq!(
            (first.0, first.1),
            (second.0, second.1),
            "seed {seed} is not deterministic"
        );
    }
}

#[test]
fn first_link_merges_and_deletes_nothing() {
    let mut world = World::new(1, 2);
    let (a, b) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    for fs in [&a, &b] {
        assert!(fs.user_mkdir("docs"));
        assert!(fs.user_write("docs/same.txt", b"same bytes"));
    }
    assert!(a.user_write("docs/differs.txt", b"from a"));
    assert!(b.user_write("docs/differs.txt", b"from b"));
    assert!(a.user_write("only-a.txt", b"a"));
    assert!(b.user_write("only-b.txt", b"b"));
    world.must_survive = [
        b"same bytes".to_vec(),
        b"from a".to_vec(),
        b"from b".to_vec(),
        b"a".to_vec(),
        b"b".to_vec(),
    ]
    .into();
    world.quiesce();
    world.check();
    let files = world.server.live_files();
    assert_eq!(files.len(), 6, "{files:#?}");
    let copies = files
        .keys()
        .filter(|p| p.contains("(conflicted copy"))
        .count();
    assert_eq!(copies, 1, "{files:#?}");
}

#[test]
fn offline_edits_of_one_file_give_one_conflicted_copy() {
    let mut world = World::new(2, 2);
    let (a, b) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(a.user_write("notes.txt", b"v0"));
    world.quiesce();
    assert_eq!(b.read("notes.txt").as_deref(), Some(&b"v0"[..]));
    assert!(a.user_write("notes.txt", b"edit on a"));
    assert!(b.user_write("notes.txt", b"edit on b"));
    world.must_survive = [b"edit on a".to_vec(), b"edit on b".to_vec()].into();
    world.quiesce();
    world.check();
    let files = world.server.live_files();
    assert_eq!(files.len(), 2, "{files:#?}");
    assert_eq!(
        files["notes.txt"].as_deref(),
        Some(&b"edit on a"[..]),
        "first commit wins"
    );
    let (copy, bytes) = files
        .iter()
        .find(|(p, _)| p.contains("conflicted copy dev1"))
        .unwrap();
    assert!(
        copy.starts_with("notes (conflicted copy dev1 ") && copy.ends_with(".txt"),
        "{copy}"
    );
    assert_eq!(bytes.as_deref(), Some(&b"edit on b"[..]));
}

#[test]
fn an_edit_racing_a_remote_delete_is_kept() {
    let mut world = World::new(3, 2);
    let (a, b) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(a.user_mkdir("dir"));
    assert!(a.user_write("dir/f.txt", b"v0"));
    assert!(a.user_write("dir/g.txt", b"g"));
    world.quiesce();
    assert!(a.user_delete("dir"));
    assert!(b.user_write("dir/f.txt", b"edited"));
    world.must_survive = [b"edited".to_vec()].into();
    world.quiesce();
    world.check();
    let files = world.server.live_files();
    assert_eq!(
        files.get("dir/f.txt"),
        Some(&Some(b"edited".to_vec())),
        "{files:#?}"
    );
    assert!(!files.contains_key("dir/g.txt"), "{files:#?}");
}

#[test]
fn an_unmounted_root_stops_sync_and_deletes_nothing() {
    let mut world = World::new(4, 2);
    let a = world.devices[0].folders[0].fs.clone();
    assert!(a.user_write("keep.txt", b"keep"));
    world.quiesce();
    world.devices[1].folders[0].fs.set_unmounted(true);
    let engine = &mut world.devices[1].folders[0].engine;
    engine.need_scan = true;
    let error = block_on(engine.sync_round()).expect_err("sync must stop");
    assert!(error.to_string().contains("missing, unmounted"), "{error}");
    assert_eq!(world.server.live_files().len(), 1);
}

#[test]
fn renames_do_not_upload_content_again() {
    let mut world = World::new(5, 2);
    let a = world.devices[0].folders[0].fs.clone();
    assert!(a.user_mkdir("d"));
    assert!(a.user_write("d/big.bin", &vec![7u8; 10_000]));
    world.quiesce();
    let uploads = world.server.uploads();
    assert!(a.user_rename("d", "e"));
    assert!(a.user_rename("e/big.bin", "moved.bin"));
    world.quiesce();
    world.check();
    assert_eq!(world.server.uploads(), uploads, "a rename is not an upload");
    assert_eq!(
        world.devices[1].folders[0]
            .fs
            .read("moved.bin")
            .map(|v| v.len()),
        Some(10_000)
    );
}

#[test]
fn the_cursor_follows_the_devices_own_commits() {
    let mut world = World::new(8, 1);
    let device = &mut world.devices[0].folders[0];
    for i in 0..7 {
        assert!(
            device
                .fs
                .user_write(&format!("f{i}.txt"), format!("file {i}").as_bytes())
        );
    }
    // One round as after a local change: a scan, then commits of at most
    // three items each, and no fetch asked for.
    device.engine.need_scan = true;
    assert!(block_on(device.engine.sync_round()).unwrap().quiet);
    let revision = world.server.revision();
    assert!(revision >= 3, "seven files go up in three commits or more");
    assert_eq!(device.store.0.lock().unwrap().cursor, revision);
    assert!(
        !block_on(device.engine.fetch_remote()).unwrap(),
        "the device's own changes do not come back"
    );
    world.check();
}

#[test]
fn dependent_moves_go_up_in_one_commit() {
    let mut world = World::new(6, 2);
    let (a, b) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(a.user_mkdir("A"));
    assert!(a.user_mkdir("A/B"));
    assert!(a.user_write("A/B/f.txt", b"in B"));
    assert!(a.user_write("A/g.txt", b"in A"));
    world.quiesce();
    // B out of A, then A into B: each move needs the other one first.
    assert!(a.user_rename("A/B", "B"));
    assert!(a.user_rename("A", "B/A"));
    let commits = world.devices[0].folders[0].engine.stats.commits;
    world.quiesce();
    world.check();
    assert_eq!(
        world.devices[0].folders[0].engine.stats.commits - commits,
        1,
        "both moves in one commit"
    );
    assert_eq!(b.read("B/A/g.txt").as_deref(), Some(&b"in A"[..]));
    assert_eq!(b.read("B/f.txt").as_deref(), Some(&b"in B"[..]));
}

#[test]
fn a_folder_taking_its_parents_name_and_swapped_names_converge() {
    let mut world = World::new(7, 2);
    let (a, b) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(a.user_mkdir("docs"));
    assert!(a.user_mkdir("docs/src"));
    assert!(a.user_write("docs/src/f.txt", b"f"));
    assert!(a.user_write("x.txt", b"x"));
    assert!(a.user_write("y.txt", b"y"));
    world.quiesce();
    let uploads = world.server.uploads();
    // docs/src moves out and takes the name "docs"; docs goes inside it.
    assert!(a.user_rename("docs/src", "tmp"));
    assert!(a.user_rename("docs", "tmp/docs"));
    assert!(a.user_rename("tmp", "docs"));
    // Two files swap names.
    assert!(a.user_rename("x.txt", "z.txt"));
    assert!(a.user_rename("y.txt", "x.txt"));
    assert!(a.user_rename("z.txt", "y.txt"));
    world.quiesce();
    world.check();
    assert_eq!(b.read("docs/f.txt").as_deref(), Some(&b"f"[..]));
    assert!(b.snapshot().contains_key("docs/docs"));
    assert_eq!(b.read("x.txt").as_deref(), Some(&b"y"[..]));
    assert_eq!(b.read("y.txt").as_deref(), Some(&b"x"[..]));
    assert_eq!(world.server.uploads(), uploads, "moves upload no bytes");
}

#[test]
fn a_case_insensitive_disk_holds_one_of_two_names_that_differ_in_case() {
    let mut world = World::with_disks(8, &[false, true]);
    let (linux, mac) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(linux.user_write("Report.txt", b"upper"));
    assert!(linux.user_write("report.txt", b"lower"));
    assert!(linux.user_mkdir("Docs"));
    assert!(linux.user_write("Docs/in-upper.txt", b"in upper"));
    assert!(linux.user_mkdir("docs"));
    assert!(linux.user_write("docs/in-lower.txt", b"in lower"));
    world.must_survive = [
        b"upper".to_vec(),
        b"lower".to_vec(),
        b"in upper".to_vec(),
        b"in lower".to_vec(),
    ]
    .into();
    world.quiesce();
    world.check();
    assert_eq!(world.server.live_files().len(), 6, "the server keeps both");
    let on_mac = mac.snapshot();
    assert_eq!(
        on_mac.len(),
        3,
        "one file, one folder and its file: {on_mac:#?}"
    );
    let clashes = world.devices[1].folders[0].engine.case_clashes();
    assert_eq!(clashes.len(), 2, "{clashes:#?}");

    // Editing the copy it has does not touch the other one.
    let (file, _) = on_mac
        .iter()
        .find(|(p, v)| v.is_some() && !p.contains('/'))
        .unwrap();
    let other = if file == "Report.txt" {
        "report.txt"
    } else {
        "Report.txt"
    };
    let other_bytes = world.server.live_files()[other].clone();
    world.must_survive.remove(on_mac[file].as_ref().unwrap());
    assert!(mac.user_write(file, b"edited on the mac"));
    world.must_survive.insert(b"edited on the mac".to_vec());
    world.quiesce();
    world.check();
    assert_eq!(world.server.live_files()[other], other_bytes);

    // Once one is renamed on Linux, the mac gets both.
    assert!(linux.user_rename(other, "third.txt"));
    world.quiesce();
    world.check();
    assert_eq!(mac.read("third.txt"), other_bytes);
    assert_eq!(world.devices[1].folders[0].engine.case_clashes().len(), 1);
}

#[test]
fn a_case_only_rename_on_a_case_insensitive_disk_syncs_as_a_rename() {
    let mut world = World::with_disks(9, &[false, true]);
    let (linux, mac) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(mac.user_mkdir("Docs"));
    assert!(mac.user_write("Docs/Report.txt", &vec![5u8; 5000]));
    world.quiesce();
    let uploads = world.server.uploads();
    assert!(mac.user_rename("Docs/Report.txt", "Docs/report.txt"));
    assert!(mac.user_rename("Docs", "docs"));
    world.quiesce();
    world.check();
    assert_eq!(world.server.uploads(), uploads, "a rename is not an upload");
    let on_linux: Vec<String> = linux.snapshot().into_keys().collect();
    assert_eq!(on_linux, ["docs", "docs/report.txt"]);

    // A case-only rename from the case-sensitive side reaches the mac too.
    assert!(linux.user_rename("docs/report.txt", "docs/REPORT.txt"));
    world.quiesce();
    world.check();
    let on_mac: Vec<String> = mac.snapshot().into_keys().collect();
    assert_eq!(on_mac, ["docs", "docs/REPORT.txt"]);
    assert_eq!(world.server.uploads(), uploads);
}

#[test]
fn a_remote_rename_into_a_case_clash_loses_nothing() {
    let mut world = World::with_disks(10, &[false, true]);
    let (linux, mac) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(linux.user_write("a.txt", b"a"));
    assert!(linux.user_write("b.txt", b"b"));
    assert!(linux.user_write("c.txt", b"c"));
    world.quiesce();
    // On Linux, b and c take a's name in other cases; meanwhile the mac
    // edits c.
    assert!(linux.user_rename("b.txt", "A.txt"));
    assert!(linux.user_rename("c.txt", "A.TXT"));
    assert!(mac.user_write("c.txt", b"c, edited on the mac"));
    world.must_survive = [
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        b"c, edited on the mac".to_vec(),
    ]
    .into();
    world.quiesce();
    world.check();
    // The mac keeps a.txt; b's unchanged copy made way (its bytes are on
    // the server as A.txt); c's edit is kept as a new item.
    let on_mac = mac.snapshot();
    assert_eq!(on_mac.len(), 2, "{on_mac:#?}");
    assert_eq!(mac.read("a.txt").as_deref(), Some(&b"a"[..]));
    assert_eq!(
        mac.read("c.txt").as_deref(),
        Some(&b"c, edited on the mac"[..])
    );
    let server = world.server.live_files();
    assert_eq!(server["A.txt"].as_deref(), Some(&b"b"[..]));
    assert_eq!(server["A.TXT"].as_deref(), Some(&b"c"[..]));
    assert_eq!(
        server["c.txt"].as_deref(),
        Some(&b"c, edited on the mac"[..])
    );
    let reported: Vec<String> = world.devices[1].folders[0]
        .engine
        .case_clashes()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(reported, ["A.TXT", "A.txt"]);
}

#[test]
fn first_link_on_a_case_insensitive_disk_merges_names_that_differ_in_case() {
    let mut world = World::with_disks(11, &[false, true]);
    let (linux, mac) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(linux.user_mkdir("photos"));
    assert!(linux.user_write("photos/cat.jpg", b"cat"));
    assert!(linux.user_write("Notes.txt", b"notes"));
    assert!(linux.user_write("README.md", b"from linux"));
    assert!(mac.user_mkdir("Photos"));
    assert!(mac.user_write("Photos/cat.jpg", b"cat"));
    assert!(mac.user_write("notes.txt", b"notes"));
    assert!(mac.user_write("readme.md", b"from the mac"));
    world.must_survive = [
        b"cat".to_vec(),
        b"notes".to_vec(),
        b"from linux".to_vec(),
        b"from the mac".to_vec(),
    ]
    .into();
    world.quiesce();
    world.check();
    // Same folder and same bytes are one item, spelled as on the server;
    // different bytes become a conflicted copy. Nothing is left out.
    let files = world.server.live_files();
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names.len(), 5, "{names:#?}");
    assert!(names.contains(&"photos/cat.jpg") && names.contains(&"Notes.txt"));
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("readme (conflicted copy dev1 ")),
        "{names:#?}"
    );
    assert_eq!(mac.snapshot().len(), 5);
    assert!(world.devices[1].folders[0].engine.case_clashes().is_empty());
}

#[test]
fn a_crash_while_a_copy_gives_way_to_a_case_clash_loses_nothing() {
    let mut world = World::with_disks(12, &[false, true]);
    let (linux, mac) = (
        world.devices[0].folders[0].fs.clone(),
        world.devices[1].folders[0].fs.clone(),
    );
    assert!(linux.user_write("a.txt", b"a"));
    assert!(linux.user_write("b.txt", b"b"));
    world.quiesce();
    assert!(linux.user_rename("b.txt", "A.txt"));
    world.sync_device(0);
    // The mac's copy of b first stops being synced (saved), then is
    // deleted, and the mac crashes before saving that.
    let engine = &mut world.devices[1].folders[0].engine;
    block_on(engine.fetch_remote()).unwrap();
    let ops = engine.plan();
    assert!(matches!(ops[..], [Op::Forget { .. }]), "{ops:?}");
    block_on(engine.execute(ops)).unwrap();
    block_on(engine.save()).unwrap();
    let ops = engine.plan();
    assert!(matches!(ops[..], [Op::LocalDelete { .. }]), "{ops:?}");
    block_on(engine.execute(ops)).unwrap();
    world.devices[1].crash(&world.server);
    world.must_survive = [b"a".to_vec(), b"b".to_vec()].into();
    world.quiesce();
    world.check();
    assert_eq!(
        world.server.live_files()["A.txt"].as_deref(),
        Some(&b"b"[..])
    );
    let on_mac: Vec<String> = mac.snapshot().into_keys().collect();
    assert_eq!(on_mac, ["a.txt"]);
}

#[test]
fn a_commit_refused_once_the_member_is_a_viewer_blocks_nothing_and_the_change_stays() {
    let mut world = World::two_users(13, &[false, false]);
    let shared = owned_workspace(0);
    let (ada, bob) = (
        world.devices[0].folders[1].fs.clone(),
        world.devices[2].folders[0].fs.clone(),
    );
    assert!(ada.user_write("plan.txt", b"plan"));
    let editor = Proposal {
        workspace: shared,
        to: 1,
        role: Role::Editor,
    };
    assert!(world.server.propose(0, editor));
    world.server.accept(0);
    world.quiesce();
    world.check();
    assert!(
        bob.snapshot().is_empty(),
        "a mount is a folder of its own, not part of bob's workspace"
    );
    let mount = world.devices[2].folders[2].fs.clone();
    assert_eq!(mount.read("plan.txt").as_deref(), Some(&b"plan"[..]));

    // Bob renames the file while still an editor; he is made a viewer
    // before his device sends the commit, which the server refuses.
    assert!(mount.user_rename("plan.txt", "bob's plan.txt"));
    world.server.set_role(shared, 1, Role::Viewer);
    let engine = &mut world.devices[2].folders[2].engine;
    block_on(engine.observe_local()).unwrap();
    let ops = engine.plan();
    let error = block_on(engine.execute(ops)).expect_err("a viewer's commit is refused");
    assert!(
        error
            .to_string()
            .contains("can read this workspace but not change it"),
        "{error}"
    );
    // Ada goes on writing; bob's mount, now read-only, still follows.
    assert!(ada.user_write("more.txt", b"more"));
    world.must_survive = [b"plan".to_vec(), b"more".to_vec()].into();
    world.quiesce();
    world.check();
    assert_eq!(mount.read("more.txt").as_deref(), Some(&b"more"[..]));
    assert_eq!(mount.read("bob's plan.txt").as_deref(), Some(&b"plan"[..]));
    let on_server = world.server.live_files_of(shared);
    assert!(on_server.contains_key("plan.txt"), "{on_server:#?}");

    // Removed, his device keeps the files as they are, no longer synced.
    world.server.end_membership(shared, 1);
    assert!(ada.user_delete("more.txt"));
    world.quiesce();
    world.check();
    assert!(world.devices[2].folders[2].ended());
    assert_eq!(mount.read("more.txt").as_deref(), Some(&b"more"[..]));
}
