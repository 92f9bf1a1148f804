//! Moves between a sync folder and the shares mounted in it: copy first,
//! then the versioned delete.
//!
//! The folder of the user's own workspace and each share mounted in it are
//! synced by engines of their own, each committing to its own workspace in
//! its own time. A file the user moves from one to the other is a new file
//! for the target's engine and a deletion for the source's. Were the
//! deletion committed first, an interrupted move (a crash, the network, the
//! owner's quota full) would leave the file in neither workspace, only in
//! the deleted version's history. So an engine holds back its deletions
//! until every other engine of the folder has planned on a scan of its
//! whole folder that started after this engine's disk last changed, and has
//! nothing left to send. A rename is atomic: when the source's scan saw the
//! file gone, it was in the target already, so that later scan saw it, and
//! its engine sent it before it reported nothing left. The copy lands
//! first; an interruption leaves both copies.
//!
//! The rule is coarse on purpose: it needs no matching of moved files across
//! workspaces (whose content hashes are keyed apart), and a deletion only
//! waits, it is never dropped. A viewer's mount never commits, so it never
//! holds anybody back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use uuid::Uuid;

use super::planner::Op;

/// What the group knows of one engine, as of its last plan. Scans are
/// stamped from the group's counter, so stamps of different engines compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Report {
    /// Whether its last plan found files not committed yet; `None`: it has
    /// not planned yet.
    unsent: Option<bool>,
    /// When the last whole-folder scan that plan reflects started.
    scanned: Option<u64>,
    /// When the last scan that changed its local tree ended.
    changed: Option<u64>,
    /// Holding deletions back: the others must scan their whole folder
    /// after this stamp (the scan that saw them) and report.
    wants_scan_after: Option<u64>,
}

#[derive(Default)]
struct Shared {
    reports: Mutex<BTreeMap<Uuid, Report>>,
    stamps: AtomicU64,
}

/// The engines of one sync folder: its own and those of its mounts.
#[derive(Clone)]
pub struct SiblingGroup {
    shared: Arc<Shared>,
    /// Counts the changes of any report, which wakes the engines waiting
    /// on the others.
    changes: Arc<watch::Sender<u64>>,
}

impl Default for SiblingGroup {
    fn default() -> Self {
        Self {
            shared: Arc::default(),
            changes: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl SiblingGroup {
    /// A new member of the group, not heard from yet.
    pub fn join(&self) -> Sibling {
        let id = Uuid::new_v4();
        lock(&self.shared).insert(id, Report::default());
        Sibling {
            shared: self.shared.clone(),
            changes: self.changes.clone(),
            id,
            holding: AtomicBool::new(false),
            seen: Arc::new(AtomicU64::new(0)),
            scanned: AtomicU64::new(0),
            changed: AtomicU64::new(0),
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, BTreeMap<Uuid, Report>> {
    // A panic elsewhere cannot leave the map half-written: every write
    // replaces or removes one report.
    shared
        .reports
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One engine's place in its [`SiblingGroup`]; it leaves when dropped (its
/// mount stopped).
pub struct Sibling {
    shared: Arc<Shared>,
    changes: Arc<watch::Sender<u64>>,
    id: Uuid,
    holding: AtomicBool,
    /// The count of changes this engine's loop last looked at.
    seen: Arc<AtomicU64>,
    /// Stamps (0: none yet) of the start of the last whole-folder scan, and
    /// of the end of the last scan that changed the local tree.
    scanned: AtomicU64,
    changed: AtomicU64,
}

fn stamp(value: &AtomicU64) -> Option<u64> {
    Some(value.load(Ordering::SeqCst)).filter(|&stamp| stamp != 0)
}

impl Sibling {
    /// The stamp of a scan starting now.
    pub fn scan_started(&self) -> u64 {
        self.shared.stamps.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Records a finished scan started at `stamp`: of the whole folder or
    /// not, and whether it changed the local tree (stamped as it ends: what
    /// it saw gone was gone by then). The others hear of it with the next
    /// plan, which reflects what it saw.
    pub fn scan_done(&self, stamp: u64, whole: bool, changed: bool) {
        if whole {
            self.scanned.fetch_max(stamp, Ordering::SeqCst);
        }
        if changed {
            self.changed.store(self.scan_started(), Ordering::SeqCst);
        }
    }

    /// Puts this engine's report in; the others hear of a change.
    fn replace(&self, reports: &mut BTreeMap<Uuid, Report>, report: Report) {
        if reports.insert(self.id, report.clone()).as_ref() != Some(&report) {
            self.changes.send_modify(|count| *count += 1);
        }
    }

    /// Records whether this engine has files it has not committed, and
    /// takes the deletions out of `ops` unless every other engine has
    /// nothing to send after a whole-folder scan that started after this
    /// engine's disk last changed (a file moved away from here was by then
    /// in its target, so that scan saw it). A new item that takes the place
    /// of a held-back deletion waits too: the server would refuse its name
    /// while the old item is live.
    pub fn hold_deletions(&self, unsent: bool, ops: &mut Vec<Op>) {
        let mut deletions: Vec<_> = Vec::new();
        for op in ops.iter() {
            if let Op::Commit(uploads) = op {
                deletions.extend(
                    uploads
                        .iter()
                        .filter(|u| u.deleted)
                        .map(|u| (u.parent, u.name.clone())),
                );
            }
        }
        let held = {
            // Under the lock, so that a report and its count go together
            // and [`Sibling::changed`] misses none.
            let mut reports = lock(&self.shared);
            let mut report = reports.get(&self.id).cloned().unwrap_or_default();
            report.unsent = Some(unsent);
            report.scanned = stamp(&self.scanned);
            report.changed = stamp(&self.changed);
            let since = report.changed;
            let others_done = reports.iter().all(|(id, other)| {
                *id == self.id
                    || (other.unsent == Some(false)
                        && other.scanned.is_some_and(|s| since.is_none_or(|t| s > t)))
            });
            let held = !deletions.is_empty() && !others_done;
            report.wants_scan_after = held.then_some(since.unwrap_or(0));
            self.replace(&mut reports, report);
            self.seen.store(*self.changes.borrow(), Ordering::SeqCst);
            held
        };
        if held {
            for op in ops.iter_mut() {
                if let Op::Commit(uploads) = op {
                    uploads.retain(|u| !deletions.contains(&(u.parent, u.name.clone())));
                }
            }
            ops.retain(|op| !matches!(op, Op::Commit(uploads) if uploads.is_empty()));
        }
        if self.holding.swap(held, Ordering::Relaxed) != held && held {
            tracing::info!(
                "deletions wait until this folder's shared folders (or the folder around this \
                 share) have looked at their files and uploaded the new ones: a file moved \
                 between them is copied first, then deleted"
            );
        }
    }

    /// Whether the last plan held deletions back.
    pub fn holding(&self) -> bool {
        self.holding.load(Ordering::Relaxed)
    }

    /// Whether another engine holds deletions back until this one scans its
    /// whole folder again.
    pub fn scan_wanted(&self) -> bool {
        let scanned = stamp(&self.scanned);
        let reports = lock(&self.shared);
        reports.iter().any(|(id, other)| {
            *id != self.id
                && other
                    .wants_scan_after
                    .is_some_and(|after| scanned.is_none_or(|s| s <= after))
        })
    }

    /// Completes once a report of the group changed since this engine last
    /// planned or was woken by it.
    pub fn changed(&self) -> impl Future<Output = ()> + Send + 'static {
        let seen = self.seen.clone();
        let mut changes = self.changes.subscribe();
        async move {
            let from = seen.load(Ordering::SeqCst);
            // The sender lives as long as the group: `wait_for` cannot fail.
            if let Ok(count) = changes.wait_for(|count| *count != from).await {
                seen.store(*count, Ordering::SeqCst);
            }
        }
    }
}

impl Drop for Sibling {
    fn drop(&mut self) {
        let mut reports = lock(&self.shared);
        reports.remove(&self.id);
        // Those waiting for this engine wait no more.
        self.changes.send_modify(|count| *count += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Upload;

    fn upload(id: u128, name: &str, deleted: bool) -> Upload {
        Upload {
            id: Uuid::from_u128(id),
            base_version: 1,
            parent: None,
            name: name.into(),
            is_folder: false,
            deleted,
            content_changed: !deleted,
        }
    }

    fn commit() -> Vec<Op> {
        vec![
            Op::MarkSynced {
                id: Uuid::from_u128(9),
            },
            Op::Commit(vec![
                upload(1, "moved.txt", true),
                upload(2, "moved.txt", false),
                upload(3, "other.txt", false),
            ]),
        ]
    }

    #[test]
    fn deletions_wait_for_the_others_to_look_and_commit_their_files() {
        let group = SiblingGroup::default();
        let own = group.join();
        let mount = group.join();
        let held = || {
            vec![
                Op::MarkSynced {
                    id: Uuid::from_u128(9),
                },
                Op::Commit(vec![upload(3, "other.txt", false)]),
            ]
        };
        // A scan of the mount, then one of the own folder that sees a file
        // gone: the mount's scan is too old to have seen it arrive.
        let early = mount.scan_started();
        mount.scan_done(early, true, false);
        mount.hold_deletions(false, &mut Vec::new());
        own.scan_done(own.scan_started(), false, true);
        assert!(!mount.scan_wanted());
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert!(own.holding());
        assert_eq!(ops, held());
        // The mount is asked to look at its whole folder; it finds the file
        // and has not sent it yet: still held. Its own deletions go, as the
        // own folder has nothing to send and looked after the mount changed.
        assert!(mount.scan_wanted());
        let scan = mount.scan_started();
        mount.scan_done(scan, true, true);
        assert!(!mount.scan_wanted());
        own.scan_done(own.scan_started(), true, false);
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert_eq!(ops, held(), "the mount has not planned since it looked");
        let gone = vec![Op::Commit(vec![upload(4, "gone.txt", true)])];
        let mut mount_ops = gone.clone();
        mount.hold_deletions(true, &mut mount_ops);
        assert_eq!(mount_ops, gone);
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert_eq!(ops, held());
        // Sent: the deletions go.
        mount.hold_deletions(false, &mut Vec::new());
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert_eq!(ops, commit());
        assert!(!own.holding());
        // A stopped mount holds nobody back.
        mount.hold_deletions(true, &mut Vec::new());
        drop(mount);
        own.scan_done(own.scan_started(), false, true);
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert_eq!(ops, commit());
    }
}
