//! The file system behind a trait: the real sync folder ([`RealFs`]) and an
//! in-memory one ([`MemFs`]) for the deterministic simulation.
//!
//! Paths are relative to the sync root, `/`-separated, already validated.
//! Every write that could destroy something carries an [`Expect`]ation of
//! what is there, checked right before acting: a file the user changed
//! since it was observed is never overwritten or deleted.
//!
//! Symlinks are neither followed nor synced (they are listed as skipped);
//! special files likewise. Names the server would refuse are skipped.
//!
//! Case: whether the sync root treats `Report.txt` and `report.txt` as one
//! name is probed inside `.nimbus/` ([`Fs::case_insensitive`]); the planner
//! then never places two items whose names [`case_fold`] alike side by side.
//! A case-only rename on such a file system goes through a temporary
//! sibling name, because some of them refuse or ignore it when done directly.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

/// What a scan or an operation sees of one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub is_folder: bool,
    pub size: u64,
    /// Nanoseconds since the epoch (a logical clock in [`MemFs`]).
    pub mtime: i64,
    pub inode: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub stat: Stat,
}

/// The result of walking the sync root.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Parents before children.
    pub entries: Vec<Entry>,
    /// Folders that could not be read: what was known under them is kept.
    pub unreadable: Vec<String>,
    /// Paths not synced, and why (symlinks, invalid names, special files).
    pub skipped: Vec<(String, String)>,
}

/// What must be at a path for an operation to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Nothing.
    Absent,
    /// The file or folder as last observed (size, mtime, inode).
    Unchanged(Stat),
}

#[derive(Debug, Error)]
pub enum FsError {
    #[error("{0} changed since it was last looked at; will look again")]
    Changed(String),
    #[error("{0} still holds files that are not synced; it is kept")]
    NotEmpty(String),
    #[error(
        "the sync folder {0} is missing, unmounted or not the linked folder (its .nimbus marker is gone). \
         Nothing was deleted. Mount or restore the folder, or link a new one with `nimbus sync`."
    )]
    RootMissing(String),
    /// The disk of the sync folder had no room for a download: nothing was
    /// written in place of what is there.
    #[error(
        "disk full: not enough space on the disk of the sync folder to write {0}; the file \
         already there, if any, is unchanged. Free space on that disk and the download \
         resumes by itself."
    )]
    DiskFull(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl FsError {
    fn io(path: &str, source: io::Error) -> Self {
        FsError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Whether `error` says that a disk is full (or its quota used up).
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// A path filter: `(relative path, is_folder) -> excluded`.
pub type IgnoreFn<'a> = &'a (dyn Fn(&str, bool) -> bool + Sync);

/// The key under which a case-insensitive file system may take two names
/// for one. Wider than any real file system's folding: full Unicode
/// upper-then-lower casing (`Straße` and `STRASSE` fold alike) and
/// canonical decomposition (`é` as one code point or as `e` and an accent,
/// which macOS takes for one name). Treating two names as one when the disk
/// would not only keeps an item from being placed; the reverse would let
/// one file overwrite another.
pub fn case_fold(name: &str) -> String {
    name.to_uppercase().to_lowercase().nfd().collect()
}

pub trait Fs: Send + Sync {
    /// Fails with [`FsError::RootMissing`] unless the sync root is there and
    /// is the linked folder.
    fn check_root(&self) -> Result<(), FsError>;
    /// Whether the sync root takes names that differ only in case for the
    /// same name. Known once [`Fs::check_root`] has succeeded; `false` before.
    fn case_insensitive(&self) -> bool;
    fn scan(&self, ignored: IgnoreFn<'_>) -> Result<Scan, FsError>;
    /// What [`Fs::scan`] lists at `path` (whose parent it listed before),
    /// and `beneath` it when that is a folder: nothing if the path is gone.
    /// The file watcher names the paths that changed; scanning only those
    /// costs what changed, not what the folder holds.
    fn scan_at(&self, path: &str, beneath: bool, ignored: IgnoreFn<'_>) -> Result<Scan, FsError> {
        let mut scan = self.scan(ignored)?;
        let inside = |p: &str| {
            p == path
                || (beneath
                    && p.strip_prefix(path)
                        .is_some_and(|rest| rest.starts_with('/')))
        };
        scan.entries.retain(|e| inside(&e.path));
        scan.unreadable.retain(|p| inside(p));
        scan.skipped.retain(|(p, _)| inside(p));
        Ok(scan)
    }
    fn stat(&self, path: &str) -> Result<Option<Stat>, FsError>;
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError>;
    /// A new temporary file outside the synced tree; returns its token.
    fn create_temp(&self) -> Result<(String, Box<dyn Write + Send>), FsError>;
    /// Makes the (closed) temporary file durable, unless flushing its
    /// writer already did, and renames it to `path`.
    fn commit_temp(&self, temp: &str, path: &str, expect: Expect) -> Result<Stat, FsError>;
    fn discard_temp(&self, temp: &str);
    fn mkdir(&self, path: &str) -> Result<Stat, FsError>;
    /// Renames without replacing anything at `to` (on a case-insensitive
    /// file system, `to` may be `from` in other case: a case-only rename).
    fn rename(&self, from: &str, to: &str, expect: Expect) -> Result<Stat, FsError>;
    fn remove_file(&self, path: &str, expect: Expect) -> Result<(), FsError>;
    /// Removes an empty folder.
    fn remove_dir(&self, path: &str) -> Result<(), FsError>;
}

fn matches(expect: Expect, found: Option<Stat>, path: &str) -> Result<(), FsError> {
    let ok = match (expect, found) {
        (Expect::Absent, None) => true,
        (Expect::Unchanged(want), Some(have)) => {
            want.is_folder == have.is_folder
                && (want.is_folder
                    || (want.size == have.size
                        && want.mtime == have.mtime
                        && want.inode == have.inode))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(FsError::Changed(path.to_owned()))
    }
}

/// Name of the folder inside the sync root that holds Nimbus' own files
/// (marker, temporary downloads). Never synced.
pub const META_DIR: &str = ".nimbus";
const MARKER: &str = "root-id";

const TEMP_DIR: &str = "tmp";

/// Whether the file system of the linked folder `root` takes names that
/// differ only in case for one: creates a lower-case file in
/// `.nimbus/tmp` and looks for it in upper case. `false` when the probe
/// cannot run (the folder is missing or read-only), which leaves the
/// overwrite guards of every operation as the only protection.
pub fn root_is_case_insensitive(root: &Path) -> bool {
    let dir = root.join(META_DIR).join(TEMP_DIR);
    let name = format!("case-probe-{}", Uuid::new_v4().simple());
    let lower = dir.join(&name);
    if let Err(error) = std::fs::File::create_new(&lower) {
        tracing::warn!(folder = %root.display(), %error, "cannot probe whether names are case-insensitive here");
        return false;
    }
    let found = std::fs::symlink_metadata(dir.join(name.to_uppercase())).is_ok();
    let _ = std::fs::remove_file(&lower);
    found
}

/// The real sync folder.
pub struct RealFs {
    root: PathBuf,
    link_id: Uuid,
    /// Probed at the first successful [`Fs::check_root`].
    case_insensitive: OnceLock<bool>,
    /// Temporary files their writer already made durable ([`DurableTemp`]).
    durable_temps: Arc<Mutex<HashSet<String>>>,
}

impl RealFs {
    /// Lists what `walk` finds under the root as [`Fs::scan`] does: ignored
    /// paths, `.nimbus`, symbolic links, special files and invalid names
    /// are left out (the last three reported), unreadable folders named.
    fn walk(&self, walk: walkdir::WalkDir, ignored: IgnoreFn<'_>) -> Scan {
        let mut scan = Scan::default();
        let mut walker = walk
            .follow_links(false)
            .follow_root_links(false)
            .sort_by_file_name()
            .into_iter();
        while let Some(next) = walker.next() {
            let entry = match next {
                Ok(entry) => entry,
                Err(error) => {
                    let path = error
                        .path()
                        .and_then(|p| p.strip_prefix(&self.root).ok())
                        .map(|p| p.to_string_lossy().replace('\\', "/"))
                        .unwrap_or_default();
                    if error.io_error().map(io::Error::kind) == Some(io::ErrorKind::NotFound) {
                        continue; // vanished while walking: the next scan sees it gone
                    }
                    tracing::warn!(%path, %error, "cannot read; keeping what was known there");
                    scan.unreadable.push(path);
                    continue;
                }
            };
            let Ok(relative) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let Some(path) = relative.to_str().map(|p| p.replace('\\', "/")) else {
                scan.skipped.push((
                    relative.to_string_lossy().into_owned(),
                    "the name is not valid UTF-8".into(),
                ));
                if entry.file_type().is_dir() {
                    walker.skip_current_dir();
                }
                continue;
            };
            let is_dir = entry.file_type().is_dir();
            if path == META_DIR || ignored(&path, is_dir) {
                if is_dir {
                    walker.skip_current_dir();
                }
                continue;
            }
            let name = path.rsplit('/').next().unwrap_or(&path);
            if let Err(error) = nimbus_protocol::names::validate_name(name) {
                scan.skipped.push((path, error.to_string()));
                if is_dir {
                    walker.skip_current_dir();
                }
                continue;
            }
            if entry.file_type().is_symlink() {
                scan.skipped
                    .push((path, "symbolic links are not synced".into()));
                continue;
            }
            if !is_dir && !entry.file_type().is_file() {
                scan.skipped
                    .push((path, "special files are not synced".into()));
                continue;
            }
            match entry.metadata() {
                Ok(meta) => scan.entries.push(Entry {
                    path,
                    stat: stat_of(&meta),
                }),
                Err(error) => {
                    if error.io_error().map(io::Error::kind) != Some(io::ErrorKind::NotFound) {
                        scan.unreadable.push(path);
                    }
                    if is_dir {
                        walker.skip_current_dir();
                    }
                }
            }
        }
        scan
    }

    /// Opens a linked root (see [`RealFs::link`]).
    pub fn new(root: PathBuf, link_id: Uuid) -> Self {
        Self {
            root,
            link_id,
            case_insensitive: OnceLock::new(),
            durable_temps: Arc::default(),
        }
    }

    /// Marks `root` as the folder linked under `link_id`: creates it if
    /// missing and writes the marker. Used once, when a folder is linked.
    pub fn link(root: &Path, link_id: Uuid) -> io::Result<()> {
        std::fs::create_dir_all(root.join(META_DIR).join(TEMP_DIR))?;
        std::fs::write(root.join(META_DIR).join(MARKER), link_id.to_string())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn abs(&self, path: &str) -> PathBuf {
        let mut abs = self.root.clone();
        abs.extend(path.split('/'));
        abs
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join(META_DIR).join(TEMP_DIR)
    }

    /// Whether `to` names the very entry at `from`: the same folder and a
    /// name that differs only in case, on a file system that ignores case,
    /// with no other entry there that could be what `to` finds. Inode
    /// numbers cannot tell: some file systems (FUSE ones) give each
    /// spelling its own.
    fn same_entry(&self, from: &str, to: &str) -> Result<bool, FsError> {
        let (from_parent, from_name) = split_path(from);
        let (to_parent, to_name) = split_path(to);
        let folded = case_fold(to_name);
        if !self.case_insensitive() || from_parent != to_parent || case_fold(from_name) != folded {
            return Ok(false);
        }
        let dir = match from_parent {
            Some(parent) => self.abs(parent),
            None => self.root.clone(),
        };
        let entries = std::fs::read_dir(&dir).map_err(|e| FsError::io(from, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| FsError::io(from, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name != from_name && case_fold(&name) == folded {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Removes temporary files a crash left behind.
    pub fn clean_temp(&self) {
        if let Ok(entries) = std::fs::read_dir(self.temp_dir()) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The writer of a temporary file. `flush` writes it out and syncs it, and
/// records that [`Fs::commit_temp`] need not sync it again: downloads flush
/// on blocking threads, several at once, so that the syncs overlap instead
/// of queueing up one by one before the renames.
struct DurableTemp {
    file: io::BufWriter<std::fs::File>,
    name: String,
    durable: Arc<Mutex<HashSet<String>>>,
    /// Whether `durable` lists this file (until the next write).
    marked: bool,
}

impl Write for DurableTemp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.marked {
            self.durable.lock().expect("temp set").remove(&self.name);
            self.marked = false;
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        self.durable
            .lock()
            .expect("temp set")
            .insert(self.name.clone());
        self.marked = true;
        Ok(())
    }
}

#[cfg(unix)]
fn stat_of(meta: &std::fs::Metadata) -> Stat {
    use std::os::unix::fs::MetadataExt;
    Stat {
        is_folder: meta.is_dir(),
        size: if meta.is_dir() { 0 } else { meta.len() },
        mtime: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        inode: meta.ino(),
    }
}

#[cfg(not(unix))]
fn stat_of(meta: &std::fs::Metadata) -> Stat {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Stat {
        is_folder: meta.is_dir(),
        size: if meta.is_dir() { 0 } else { meta.len() },
        mtime,
        inode: 0,
    }
}

impl Fs for RealFs {
    fn check_root(&self) -> Result<(), FsError> {
        let marker = self.root.join(META_DIR).join(MARKER);
        match std::fs::read_to_string(&marker) {
            Ok(id) if id.trim() == self.link_id.to_string() => {
                let _ = std::fs::create_dir_all(self.temp_dir());
                let probed = *self
                    .case_insensitive
                    .get_or_init(|| root_is_case_insensitive(&self.root));
                if probed {
                    tracing::debug!(folder = %self.root.display(), "names are case-insensitive here");
                }
                Ok(())
            }
            _ => Err(FsError::RootMissing(self.root.display().to_string())),
        }
    }

    fn case_insensitive(&self) -> bool {
        self.case_insensitive.get().copied().unwrap_or(false)
    }

    fn scan(&self, ignored: IgnoreFn<'_>) -> Result<Scan, FsError> {
        self.check_root()?;
        Ok(self.walk(walkdir::WalkDir::new(&self.root).min_depth(1), ignored))
    }

    fn scan_at(&self, path: &str, beneath: bool, ignored: IgnoreFn<'_>) -> Result<Scan, FsError> {
        self.check_root()?;
        let walk = walkdir::WalkDir::new(self.abs(path));
        Ok(self.walk(if beneath { walk } else { walk.max_depth(0) }, ignored))
    }

    fn stat(&self, path: &str) -> Result<Option<Stat>, FsError> {
        match std::fs::symlink_metadata(self.abs(path)) {
            Ok(meta) if meta.file_type().is_symlink() => Err(FsError::Changed(path.into())),
            Ok(meta) => Ok(Some(stat_of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FsError::io(path, e)),
        }
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        let file = std::fs::File::open(self.abs(path)).map_err(|e| FsError::io(path, e))?;
        Ok(Box::new(io::BufReader::with_capacity(1 << 20, file)))
    }

    fn create_temp(&self) -> Result<(String, Box<dyn Write + Send>), FsError> {
        self.check_root()?;
        let name = format!("{}.part", Uuid::new_v4().simple());
        let path = self.temp_dir().join(&name);
        let file = std::fs::File::create(&path).map_err(|e| FsError::io(&name, e))?;
        let writer = DurableTemp {
            file: io::BufWriter::with_capacity(1 << 20, file),
            name: name.clone(),
            durable: self.durable_temps.clone(),
            marked: false,
        };
        Ok((name, Box::new(writer)))
    }

    fn commit_temp(&self, temp: &str, path: &str, expect: Expect) -> Result<Stat, FsError> {
        let temp_path = self.temp_dir().join(temp);
        let durable = self.durable_temps.lock().expect("temp set").remove(temp);
        if !durable {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&temp_path)
                .map_err(|e| FsError::io(temp, e))?;
            file.sync_all().map_err(|e| FsError::io(temp, e))?;
        }
        self.check_root()?;
        matches(expect, self.stat(path)?, path)?;
        let dest = self.abs(path);
        std::fs::rename(&temp_path, &dest).map_err(|e| FsError::io(path, e))?;
        self.stat(path)?
            .ok_or_else(|| FsError::Changed(path.into()))
    }

    fn discard_temp(&self, temp: &str) {
        self.durable_temps.lock().expect("temp set").remove(temp);
        let _ = std::fs::remove_file(self.temp_dir().join(temp));
    }

    fn mkdir(&self, path: &str) -> Result<Stat, FsError> {
        self.check_root()?;
        std::fs::create_dir(self.abs(path)).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => FsError::Changed(path.into()),
            _ => FsError::io(path, e),
        })?;
        self.stat(path)?
            .ok_or_else(|| FsError::Changed(path.into()))
    }

    fn rename(&self, from: &str, to: &str, expect: Expect) -> Result<Stat, FsError> {
        self.check_root()?;
        matches(expect, self.stat(from)?, from)?;
        if self.stat(to)?.is_some() {
            if !self.same_entry(from, to)? {
                return Err(FsError::Changed(to.into()));
            }
            // A case-only rename: in two steps, through a free sibling name.
            let (parent, _) = split_path(from);
            let step = format!(
                ".nimbus-case-{}",
                &Uuid::new_v4().simple().to_string()[..12]
            );
            let step = match parent {
                Some(parent) => format!("{parent}/{step}"),
                None => step,
            };
            std::fs::rename(self.abs(from), self.abs(&step)).map_err(|e| FsError::io(from, e))?;
            std::fs::rename(self.abs(&step), self.abs(to)).map_err(|e| FsError::io(&step, e))?;
        } else {
            std::fs::rename(self.abs(from), self.abs(to)).map_err(|e| FsError::io(from, e))?;
        }
        self.stat(to)?.ok_or_else(|| FsError::Changed(to.into()))
    }

    fn remove_file(&self, path: &str, expect: Expect) -> Result<(), FsError> {
        self.check_root()?;
        matches(expect, self.stat(path)?, path)?;
        match std::fs::remove_file(self.abs(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(FsError::io(path, e)),
            _ => Ok(()),
        }
    }

    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        self.check_root()?;
        match std::fs::remove_dir(self.abs(path)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
                Err(FsError::NotEmpty(path.into()))
            }
            Err(e) => Err(FsError::io(path, e)),
            Ok(()) => Ok(()),
        }
    }
}

/// An in-memory file system with inodes and a logical clock, for the
/// simulation. `user_*` methods are what a person at the keyboard does.
/// [`MemFs::case_insensitive`] makes one that, like macOS and Windows by
/// default, keeps the case a name was created with but finds it in any case.
#[derive(Clone, Default)]
pub struct MemFs {
    inner: Arc<Mutex<MemState>>,
}

#[derive(Default)]
struct MemState {
    entries: BTreeMap<String, MemEntry>,
    temps: BTreeMap<String, Arc<Mutex<Vec<u8>>>>,
    next_inode: u64,
    clock: i64,
    unmounted: bool,
    case_insensitive: bool,
}

#[derive(Clone)]
struct MemEntry {
    is_folder: bool,
    data: Arc<Vec<u8>>,
    mtime: i64,
    inode: u64,
}

impl MemEntry {
    fn stat(&self) -> Stat {
        Stat {
            is_folder: self.is_folder,
            size: self.data.len() as u64,
            mtime: self.mtime,
            inode: self.inode,
        }
    }
}

/// (parent path, name) of a relative `/`-separated path.
fn split_path(path: &str) -> (Option<&str>, &str) {
    match path.rfind('/') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    }
}

struct TempWriter(Arc<Mutex<Vec<u8>>>);

impl Write for TempWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("temp").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MemState {
    fn tick(&mut self) -> (i64, u64) {
        self.clock += 1;
        self.next_inode += 1;
        (self.clock, self.next_inode)
    }

    /// The stored spelling of the entry `path` finds, if any.
    fn resolve(&self, path: &str) -> Option<String> {
        if self.entries.contains_key(path) {
            return Some(path.to_owned());
        }
        if !self.case_insensitive {
            return None;
        }
        let folded = case_fold(path);
        self.entries
            .keys()
            .find(|k| case_fold(k) == folded)
            .cloned()
    }

    fn get(&self, path: &str) -> Option<&MemEntry> {
        self.entries.get(&self.resolve(path)?)
    }

    /// Where a new entry at `path` is stored: in its parent's spelling, with
    /// the name as given. `None` if the parent is not a folder.
    fn place(&self, path: &str) -> Option<String> {
        match split_path(path) {
            (None, name) => Some(name.to_owned()),
            (Some(parent), name) => {
                let parent = self.resolve(parent)?;
                self.entries[&parent]
                    .is_folder
                    .then(|| format!("{parent}/{name}"))
            }
        }
    }

    /// Renames without replacing anything; a case-only rename is allowed.
    fn rename(&mut self, from: &str, to: &str) -> bool {
        let (Some(from), Some(to)) = (self.resolve(from), self.place(to)) else {
            return false;
        };
        if self.resolve(&to).is_some_and(|there| there != from)
            || to.starts_with(&format!("{from}/"))
        {
            return false;
        }
        let moved: Vec<String> = self
            .entries
            .keys()
            .filter(|k| **k == from || k.starts_with(&format!("{from}/")))
            .cloned()
            .collect();
        for old in moved {
            let entry = self.entries.remove(&old).expect("listed");
            let new = format!("{to}{}", &old[from.len()..]);
            self.entries.insert(new, entry);
        }
        true
    }
}

impl MemFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// A file system on which names that differ only in case are one name.
    pub fn case_insensitive() -> Self {
        let fs = Self::default();
        fs.state().case_insensitive = true;
        fs
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemState> {
        self.inner.lock().expect("mem fs poisoned")
    }

    /// Simulates an unmounted disk: every operation fails, nothing is listed.
    pub fn set_unmounted(&self, unmounted: bool) {
        self.state().unmounted = unmounted;
    }

    /// Every file and its bytes, and every folder (with `None`).
    pub fn snapshot(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        self.state()
            .entries
            .iter()
            .map(|(path, e)| {
                (
                    path.clone(),
                    (!e.is_folder).then(|| e.data.as_ref().clone()),
                )
            })
            .collect()
    }

    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.state()
            .get(path)
            .filter(|e| !e.is_folder)
            .map(|e| e.data.as_ref().clone())
    }

    /// The stored spelling of what `path` finds (differs in case only on a
    /// case-insensitive file system).
    pub fn resolve(&self, path: &str) -> Option<String> {
        self.state().resolve(path)
    }

    /// Writes (creates or replaces) a file; false if the parent is missing
    /// or a folder is there. Replacing keeps the stored spelling.
    pub fn user_write(&self, path: &str, data: &[u8]) -> bool {
        let mut s = self.state();
        let Some(target) = s.resolve(path).or_else(|| s.place(path)) else {
            return false;
        };
        if s.entries.get(&target).is_some_and(|e| e.is_folder) {
            return false;
        }
        let (mtime, fresh_inode) = s.tick();
        let inode = s.entries.get(&target).map_or(fresh_inode, |e| e.inode);
        s.entries.insert(
            target,
            MemEntry {
                is_folder: false,
                data: Arc::new(data.to_vec()),
                mtime,
                inode,
            },
        );
        true
    }

    pub fn user_mkdir(&self, path: &str) -> bool {
        let mut s = self.state();
        let Some(target) = s.place(path).filter(|_| s.resolve(path).is_none()) else {
            return false;
        };
        let (mtime, inode) = s.tick();
        s.entries.insert(
            target,
            MemEntry {
                is_folder: true,
                data: Arc::default(),
                mtime,
                inode,
            },
        );
        true
    }

    /// Deletes a file or a whole folder.
    pub fn user_delete(&self, path: &str) -> bool {
        let mut s = self.state();
        let Some(path) = s.resolve(path) else {
            return false;
        };
        let prefix = format!("{path}/");
        s.entries
            .retain(|k, _| *k != path && !k.starts_with(&prefix));
        true
    }

    pub fn user_rename(&self, from: &str, to: &str) -> bool {
        self.state().rename(from, to)
    }
}

impl Fs for MemFs {
    fn check_root(&self) -> Result<(), FsError> {
        if self.state().unmounted {
            Err(FsError::RootMissing("<memory>".into()))
        } else {
            Ok(())
        }
    }

    fn case_insensitive(&self) -> bool {
        self.state().case_insensitive
    }

    fn scan(&self, ignored: IgnoreFn<'_>) -> Result<Scan, FsError> {
        self.check_root()?;
        let s = self.state();
        let mut scan = Scan::default();
        let mut skipped_dirs: Vec<String> = Vec::new();
        for (path, entry) in &s.entries {
            if skipped_dirs
                .iter()
                .any(|d| path.starts_with(&format!("{d}/")))
            {
                continue;
            }
            if ignored(path, entry.is_folder) {
                if entry.is_folder {
                    skipped_dirs.push(path.clone());
                }
                continue;
            }
            scan.entries.push(Entry {
                path: path.clone(),
                stat: entry.stat(),
            });
        }
        scan.entries.sort_by(|a, b| {
            (a.path.matches('/').count(), &a.path).cmp(&(b.path.matches('/').count(), &b.path))
        });
        Ok(scan)
    }

    fn stat(&self, path: &str) -> Result<Option<Stat>, FsError> {
        self.check_root()?;
        Ok(self.state().get(path).map(MemEntry::stat))
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send>, FsError> {
        self.check_root()?;
        let s = self.state();
        match s.get(path).filter(|e| !e.is_folder) {
            Some(entry) => Ok(Box::new(io::Cursor::new(entry.data.as_ref().clone()))),
            None => Err(FsError::io(path, io::ErrorKind::NotFound.into())),
        }
    }

    fn create_temp(&self) -> Result<(String, Box<dyn Write + Send>), FsError> {
        self.check_root()?;
        let mut s = self.state();
        let (_, n) = s.tick();
        let token = format!("temp-{n}");
        let buffer = Arc::new(Mutex::new(Vec::new()));
        s.temps.insert(token.clone(), buffer.clone());
        Ok((token, Box::new(TempWriter(buffer))))
    }

    fn commit_temp(&self, temp: &str, path: &str, expect: Expect) -> Result<Stat, FsError> {
        self.check_root()?;
        let mut s = self.state();
        matches(expect, s.get(path).map(MemEntry::stat), path)?;
        let Some(target) = s.resolve(path).or_else(|| s.place(path)) else {
            return Err(FsError::Changed(path.into()));
        };
        let Some(buffer) = s.temps.remove(temp) else {
            return Err(FsError::io(temp, io::ErrorKind::NotFound.into()));
        };
        let data = std::mem::take(&mut *buffer.lock().expect("temp"));
        let (mtime, inode) = s.tick();
        let entry = MemEntry {
            is_folder: false,
            data: Arc::new(data),
            mtime,
            inode,
        };
        let stat = entry.stat();
        s.entries.insert(target, entry);
        Ok(stat)
    }

    fn discard_temp(&self, temp: &str) {
        self.state().temps.remove(temp);
    }

    fn mkdir(&self, path: &str) -> Result<Stat, FsError> {
        self.check_root()?;
        if !self.user_mkdir(path) {
            return Err(FsError::Changed(path.into()));
        }
        Ok(self.state().get(path).expect("just made").stat())
    }

    fn rename(&self, from: &str, to: &str, expect: Expect) -> Result<Stat, FsError> {
        self.check_root()?;
        let mut s = self.state();
        matches(expect, s.get(from).map(MemEntry::stat), from)?;
        if !s.rename(from, to) {
            return Err(FsError::Changed(to.into()));
        }
        Ok(s.get(to).expect("just renamed").stat())
    }

    fn remove_file(&self, path: &str, expect: Expect) -> Result<(), FsError> {
        self.check_root()?;
        let mut s = self.state();
        matches(expect, s.get(path).map(MemEntry::stat), path)?;
        if let Some(path) = s.resolve(path) {
            s.entries.remove(&path);
        }
        Ok(())
    }

    fn remove_dir(&self, path: &str) -> Result<(), FsError> {
        self.check_root()?;
        let mut s = self.state();
        let Some(stored) = s.resolve(path) else {
            return Ok(());
        };
        let prefix = format!("{stored}/");
        if s.entries.keys().any(|k| k.starts_with(&prefix)) {
            return Err(FsError::NotEmpty(path.into()));
        }
        s.entries.remove(&stored);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folding_is_at_least_as_wide_as_the_file_systems() {
        assert_eq!(case_fold("Report.TXT"), case_fold("report.txt"));
        assert_eq!(case_fold("Straße"), case_fold("STRASSE"));
        assert_eq!(case_fold("ΩMEGA"), case_fold("ωmega"));
        assert_eq!(case_fold("Caf\u{e9}"), case_fold("CAFE\u{301}"));
        assert_ne!(case_fold("report.txt"), case_fold("report.txt "));
    }

    #[test]
    fn a_case_insensitive_memory_disk_finds_names_in_any_case() {
        let fs = MemFs::case_insensitive();
        assert!(fs.user_write("Report.txt", b"one"));
        assert!(fs.user_write("REPORT.txt", b"two"), "the same file");
        assert_eq!(fs.snapshot().len(), 1);
        assert_eq!(fs.read("report.TXT").as_deref(), Some(&b"two"[..]));
        assert!(!fs.user_mkdir("report.txt"));
        let (temp, mut writer) = fs.create_temp().unwrap();
        writer.write_all(b"download").unwrap();
        assert!(matches!(
            fs.commit_temp(&temp, "report.txt", Expect::Absent),
            Err(FsError::Changed(_))
        ));
        assert!(fs.user_write("other.txt", b"other"));
        let stat = fs.stat("other.txt").unwrap().unwrap();
        assert!(
            fs.rename("other.txt", "REPORT.TXT", Expect::Unchanged(stat))
                .is_err(),
            "never over another file"
        );
        let stat = fs.stat("Report.txt").unwrap().unwrap();
        fs.rename("Report.txt", "report.txt", Expect::Unchanged(stat))
            .expect("a case-only rename");
        let names: Vec<String> = fs.snapshot().into_keys().collect();
        assert_eq!(names, ["other.txt", "report.txt"]);
    }

    #[test]
    fn renaming_never_replaces_a_name_that_differs_only_in_case() {
        let dir = tempfile::tempdir().unwrap();
        let link_id = Uuid::new_v4();
        RealFs::link(dir.path(), link_id).unwrap();
        let fs = RealFs::new(dir.path().to_owned(), link_id);
        fs.check_root().unwrap();
        std::fs::write(dir.path().join("Report.txt"), b"upper").unwrap();
        let upper = fs.stat("Report.txt").unwrap().unwrap();
        if fs.case_insensitive() {
            fs.rename("Report.txt", "report.txt", Expect::Unchanged(upper))
                .expect("a case-only rename");
        } else {
            std::fs::write(dir.path().join("report.txt"), b"lower").unwrap();
            assert!(matches!(
                fs.rename("Report.txt", "report.txt", Expect::Unchanged(upper)),
                Err(FsError::Changed(_))
            ));
            assert_eq!(
                std::fs::read(dir.path().join("report.txt")).unwrap(),
                b"lower"
            );
            std::fs::remove_file(dir.path().join("report.txt")).unwrap();
            fs.rename("Report.txt", "report.txt", Expect::Unchanged(upper))
                .expect("an ordinary rename");
        }
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != META_DIR)
            .collect();
        assert_eq!(names, ["report.txt"]);
        assert_eq!(
            std::fs::read(dir.path().join("report.txt")).unwrap(),
            b"upper"
        );
        let probes = std::fs::read_dir(fs.temp_dir()).unwrap().count();
        assert_eq!(probes, 0, "the probe cleans up after itself");
    }
}
