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
//! `NIMBUS_SIM_SEEDS=N` runs N seeds (default 300); `NIMBUS_SIM_SEED=S`
//! replays one seed with a trace.

mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::executor::block_on;
use nimbus_client::Error;
use nimbus_client::engine::{Engine, Ignore, Op, PendingCommit, StateStore, Trees};
use nimbus_client::fs::{Fs, MemFs, case_fold};
use nimbus_client::remote::Clock;
use nimbus_protocol::rpc::Revision;
use server::{SimRemote, SimServer};
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
    async fn set_status(&self, _key: &str, _value: &str) -> Result<(), Error> {
        Ok(())
    }
}

struct Device {
    name: String,
    fs: MemFs,
    store: MemStore,
    clock: Arc<SimClock>,
    remote: SimRemote,
    engine: Engine<MemFs, SimRemote>,
}

fn ignore_rules() -> Ignore {
    Arc::new(|path: &str, _| {
        let name = path.rsplit('/').next().unwrap_or(path);
        name.ends_with(".swp") || name.ends_with('~')
    })
}

impl Device {
    fn new(index: usize, server: &SimServer, case_insensitive: bool) -> Self {
        let name = format!("dev{index}");
        let fs = if case_insensitive {
            MemFs::case_insensitive()
        } else {
            MemFs::new()
        };
        let store = MemStore::default();
        let clock = Arc::new(SimClock {
            device: index as u128 + 1,
            counter: Mutex::new(0),
        });
        let remote = server.remote(index);
        let engine = Self::boot(&name, &fs, &store, &clock, &remote);
        Self {
            name,
            fs,
            store,
            clock,
            remote,
            engine,
        }
    }

    fn boot(
        name: &str,
        fs: &MemFs,
        store: &MemStore,
        clock: &Arc<SimClock>,
        remote: &SimRemote,
    ) -> Engine<MemFs, SimRemote> {
        let saved = store.0.lock().unwrap().clone();
        let mut engine = Engine::new(
            fs.clone(),
            remote.clone(),
            Box::new(store.clone()),
            clock.clone(),
            name.to_owned(),
            ignore_rules(),
            saved.trees,
            saved.cursor,
            saved.pending,
        );
        engine.upload_concurrency = 1;
        // Several commits per batch of uploads, as with many files.
        engine.commit_batch = 3;
        engine
    }

    /// Loses everything not saved and starts again from the store.
    fn crash(&mut self) {
        self.engine = Self::boot(&self.name, &self.fs, &self.store, &self.clock, &self.remote);
    }
}

struct World {
    rng: Rng,
    server: SimServer,
    devices: Vec<Device>,
    /// Contents users wrote and did not themselves supersede.
    must_survive: BTreeSet<Vec<u8>>,
    writes: u64,
    trace: Vec<String>,
}

const FILE_NAMES: &[&str] = &["a.txt", "b.txt", "A.txt", "ü名.md", "c", ".vimrc", "x.swp"];
const FOLDER_NAMES: &[&str] = &["docs", "src", "Ωmega", "Docs", "ΩMEGA"];

impl World {
    /// `devices` devices, all with case-sensitive disks.
    fn new(seed: u64, devices: usize) -> Self {
        Self::with_disks(seed, &vec![false; devices])
    }

    /// One device per entry: whether its disk is case-insensitive.
    fn with_disks(seed: u64, case_insensitive: &[bool]) -> Self {
        let server = SimServer::new();
        Self {
            rng: Rng(seed),
            devices: case_insensitive
                .iter()
                .enumerate()
                .map(|(i, ci)| Device::new(i, &server, *ci))
                .collect(),
            server,
            must_survive: BTreeSet::new(),
            writes: 0,
            trace: Vec::new(),
        }
    }

    fn log(&mut self, line: String) {
        self.trace.push(line);
    }

    fn user_op(&mut self, d: usize) {
        let fs = self.devices[d].fs.clone();
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
        match self.rng.below(10) {
            0..=2 => {
                // create or overwrite a file
                let parent = self.rng.pick(&parents).cloned().flatten();
                let name = *self.rng.pick(FILE_NAMES).unwrap();
                let path = join(&parent, name);
                self.write(d, &fs, &path, &snapshot, supersede);
            }
            3 | 4 => {
                if let Some(path) = self.rng.pick(&files).cloned() {
                    self.write(d, &fs, &path, &snapshot, supersede);
                }
            }
            5 => {
                let parent = self.rng.pick(&parents).cloned().flatten();
                let path = join(&parent, self.rng.pick(FOLDER_NAMES).unwrap());
                if fs.user_mkdir(&path) {
                    self.log(format!("{d}: mkdir {path}"));
                }
            }
            6 => {
                let all: Vec<String> = snapshot.keys().cloned().collect();
                if let Some(path) = self.rng.pick(&all).cloned() {
                    supersede(self, &path);
                    if fs.user_delete(&path) {
                        self.log(format!("{d}: delete {path}"));
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
                    }
                }
            }
        }
    }

    fn write(
        &mut self,
        d: usize,
        fs: &MemFs,
        path: &str,
        snapshot: &BTreeMap<String, Option<Vec<u8>>>,
        supersede: impl Fn(&mut World, &str),
    ) {
        if snapshot.get(path).is_some_and(Option::is_none) {
            return;
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
                self.must_survive.insert(content);
            }
            self.log(format!("{d}: write {path} #{}", self.writes));
        }
    }

    fn device_step(&mut self, d: usize) {
        let choice = self.rng.below(10);
        let crash_after = self.rng.chance(8);
        let lose_reply = self.rng.chance(5);
        let save = self.rng.chance(50);
        let partial = self.rng.next();
        let device = &mut self.devices[d];
        let result: Result<String, Error> = block_on(async {
            match choice {
                0..=2 => device
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
        self.log(format!("{d}: {line}"));
        if crash_after {
            self.devices[d].crash();
            self.log(format!("{d}: crash"));
        }
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            let d = self.rng.below(self.devices.len());
            if self.rng.chance(45) {
                self.user_op(d);
            } else {
                self.device_step(d);
            }
        }
    }

    /// One full round on device `d`, which must end quiet; returns how
    /// many operations it ran.
    fn sync_device(&mut self, d: usize) -> usize {
        let engine = &mut self.devices[d].engine;
        engine.need_scan = true;
        engine.need_fetch = true;
        let round = block_on(engine.sync_round())
            .unwrap_or_else(|e| panic!("device {d} failed to sync: {e}"));
        if !round.quiet {
            let engine = &self.devices[d].engine;
            eprintln!("plan: {:?}", engine.plan());
            dump(&engine.trees);
        }
        assert!(
            round.quiet,
            "device {d} did not reach a quiet state within the pass limit"
        );
        round.ops
    }

    /// Syncs every device until a full sweep does nothing.
    fn quiesce(&mut self) {
        for sweep in 0..40 {
            let mut busy = false;
            for d in 0..self.devices.len() {
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
        let server_tree = self.server.live_files();
        for device in &self.devices {
            let mut disk = device.fs.snapshot();
            disk.retain(|path, _| !path.rsplit('/').next().unwrap().ends_with(".swp"));
            let expected = if device.fs.case_insensitive() {
                self.check_case_clashes(device, &disk, &server_tree)
            } else {
                server_tree.clone()
            };
            if disk != expected {
                dump(&device.engine.trees);
            }
            assert_eq!(disk, expected, "{} does not match the server", device.name);
        }
        // Bytes a user moved into an ignored file stay on that disk.
        let disks: Vec<_> = self.devices.iter().map(|d| d.fs.snapshot()).collect();
        let present: BTreeSet<&Vec<u8>> = server_tree
            .values()
            .chain(disks.iter().flat_map(|disk| disk.values()))
            .flatten()
            .collect();
        for content in &self.must_survive {
            if !present.contains(content) {
                for device in &self.devices {
                    eprintln!("{}:", device.name);
                    dump(&device.engine.trees);
                }
            }
            assert!(
                present.contains(content),
                "lost bytes: {:?}",
                String::from_utf8_lossy(content)
            );
        }
    }
}

impl World {
    /// On a case-insensitive disk, the server items that are missing must
    /// be exactly those under an item the device reports as a case clash,
    /// each of which has a sibling on disk whose name differs only in
    /// case. Returns the server tree without them: what the disk must be.
    fn check_case_clashes(
        &self,
        device: &Device,
        disk: &BTreeMap<String, Option<Vec<u8>>>,
        server_tree: &BTreeMap<String, Option<Vec<u8>>>,
    ) -> BTreeMap<String, Option<Vec<u8>>> {
        let reported: BTreeSet<String> = device
            .engine
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
            "{}: the server items missing from its case-insensitive disk are not the ones it reports",
            device.name
        );
        for path in &missing {
            let parent = parent_path(path);
            let holder = disk.keys().find(|other| {
                *other != path
                    && parent_path(other) == parent
                    && case_fold(other) == case_fold(path)
            });
            assert!(
                holder.is_some(),
                "{}: {path} is missing but no name differing only in case holds it",
                device.name
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

fn run_seed(seed: u64) -> (BTreeMap<String, Option<Vec<u8>>>, Vec<String>) {
    let mut world = World::with_disks(seed, &disks(seed));
    world.run(120);
    world.quiesce();
    world.check();
    // More activity after convergence, then converge again.
    world.run(60);
    world.quiesce();
    world.check();
    (world.server.live_files(), world.trace)
}

fn run_or_report(seed: u64) -> (BTreeMap<String, Option<Vec<u8>>>, Vec<String>) {
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
        let world = std::panic::catch_unwind(|| run_seed(seed));
        if let Err(panic) = world {
            // Replay for the trace.
            let mut world = World::with_disks(seed, &disks(seed));
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                world.run(120);
                world.quiesce();
                world.check();
                world.log("phase two".into());
                world.run(60);
                world.quiesce();
                world.check();
            }));
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
    for seed in 0..seeds {
        run_or_report(seed);
    }
}

#[test]
fn the_same_seed_gives_the_same_history() {
    for seed in [3, 17, 42] {
        let first = run_or_report(seed);
        let second = run_or_report(seed);
        assert_eq!(first, second, "seed {seed} is not deterministic");
    }
}

#[test]
fn first_link_merges_and_deletes_nothing() {
    let mut world = World::new(1, 2);
    let (a, b) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let (a, b) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let (a, b) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let a = world.devices[0].fs.clone();
    assert!(a.user_write("keep.txt", b"keep"));
    world.quiesce();
    world.devices[1].fs.set_unmounted(true);
    let engine = &mut world.devices[1].engine;
    engine.need_scan = true;
    let error = block_on(engine.sync_round()).expect_err("sync must stop");
    assert!(error.to_string().contains("missing, unmounted"), "{error}");
    assert_eq!(world.server.live_files().len(), 1);
}

#[test]
fn renames_do_not_upload_content_again() {
    let mut world = World::new(5, 2);
    let a = world.devices[0].fs.clone();
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
        world.devices[1].fs.read("moved.bin").map(|v| v.len()),
        Some(10_000)
    );
}

#[test]
fn the_cursor_follows_the_devices_own_commits() {
    let mut world = World::new(8, 1);
    let device = &mut world.devices[0];
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
    let (a, b) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
    assert!(a.user_mkdir("A"));
    assert!(a.user_mkdir("A/B"));
    assert!(a.user_write("A/B/f.txt", b"in B"));
    assert!(a.user_write("A/g.txt", b"in A"));
    world.quiesce();
    // B out of A, then A into B: each move needs the other one first.
    assert!(a.user_rename("A/B", "B"));
    assert!(a.user_rename("A", "B/A"));
    let commits = world.devices[0].engine.stats.commits;
    world.quiesce();
    world.check();
    assert_eq!(
        world.devices[0].engine.stats.commits - commits,
        1,
        "both moves in one commit"
    );
    assert_eq!(b.read("B/A/g.txt").as_deref(), Some(&b"in A"[..]));
    assert_eq!(b.read("B/f.txt").as_deref(), Some(&b"in B"[..]));
}

#[test]
fn a_folder_taking_its_parents_name_and_swapped_names_converge() {
    let mut world = World::new(7, 2);
    let (a, b) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let (linux, mac) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let clashes = world.devices[1].engine.case_clashes();
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
    assert_eq!(world.devices[1].engine.case_clashes().len(), 1);
}

#[test]
fn a_case_only_rename_on_a_case_insensitive_disk_syncs_as_a_rename() {
    let mut world = World::with_disks(9, &[false, true]);
    let (linux, mac) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let (linux, mac) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    let reported: Vec<String> = world.devices[1]
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
    let (linux, mac) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
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
    assert!(world.devices[1].engine.case_clashes().is_empty());
}

#[test]
fn a_crash_while_a_copy_gives_way_to_a_case_clash_loses_nothing() {
    let mut world = World::with_disks(12, &[false, true]);
    let (linux, mac) = (world.devices[0].fs.clone(), world.devices[1].fs.clone());
    assert!(linux.user_write("a.txt", b"a"));
    assert!(linux.user_write("b.txt", b"b"));
    world.quiesce();
    assert!(linux.user_rename("b.txt", "A.txt"));
    world.sync_device(0);
    // The mac's copy of b first stops being synced (saved), then is
    // deleted, and the mac crashes before saving that.
    let engine = &mut world.devices[1].engine;
    block_on(engine.fetch_remote()).unwrap();
    let ops = engine.plan();
    assert!(matches!(ops[..], [Op::Forget { .. }]), "{ops:?}");
    block_on(engine.execute(ops)).unwrap();
    block_on(engine.save()).unwrap();
    let ops = engine.plan();
    assert!(matches!(ops[..], [Op::LocalDelete { .. }]), "{ops:?}");
    block_on(engine.execute(ops)).unwrap();
    world.devices[1].crash();
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
