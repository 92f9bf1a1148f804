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
//! while another engine of the same folder has files it has not committed
//! yet, or has not looked at its disk yet: the copy lands first, the
//! deletion after it, and an interruption leaves both copies.
//!
//! The rule is coarse on purpose: it needs no matching of moved files across
//! workspaces (whose content hashes are keyed apart), and a deletion only
//! waits, it is never dropped. A viewer's mount never commits, so it never
//! holds anybody back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use uuid::Uuid;

use super::planner::Op;

/// Per engine: `None` until it has planned once (its disk not looked at
/// yet), then whether it has files not committed yet.
type Unsent = Mutex<BTreeMap<Uuid, Option<bool>>>;

/// The engines of one sync folder: its own and those of its mounts.
#[derive(Clone)]
pub struct SiblingGroup {
    unsent: Arc<Unsent>,
    /// Counts the times an engine was left with nothing to send, which
    /// wakes those holding deletions back.
    sent: Arc<watch::Sender<u64>>,
}

impl Default for SiblingGroup {
    fn default() -> Self {
        Self {
            unsent: Arc::default(),
            sent: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl SiblingGroup {
    /// A new member of the group, not heard from yet.
    pub fn join(&self) -> Sibling {
        let id = Uuid::new_v4();
        lock(&self.unsent).insert(id, None);
        Sibling {
            unsent: self.unsent.clone(),
            sent: self.sent.clone(),
            id,
            holding: AtomicBool::new(false),
            seen: AtomicU64::new(0),
        }
    }
}

fn lock(unsent: &Unsent) -> std::sync::MutexGuard<'_, BTreeMap<Uuid, Option<bool>>> {
    // A panic elsewhere cannot leave the map half-written: every write is
    // one insert or remove.
    unsent
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One engine's place in its [`SiblingGroup`]; it leaves when dropped (its
/// mount stopped).
pub struct Sibling {
    unsent: Arc<Unsent>,
    sent: Arc<watch::Sender<u64>>,
    id: Uuid,
    holding: AtomicBool,
    /// The count of [`SiblingGroup::sent`] when this engine last planned.
    seen: AtomicU64,
}

impl Sibling {
    /// Records whether this engine has files it has not committed, and
    /// takes the deletions out of `ops` while another engine has some.
    /// A new item that takes the place of a held-back deletion waits too:
    /// the server would refuse its name while the old item is live.
    pub fn hold_deletions(&self, unsent: bool, ops: &mut Vec<Op>) {
        let others_unsent = {
            // All under the lock, so that a sibling's report and its count
            // are seen together: [`Sibling::others_sent`] misses none.
            let mut map = lock(&self.unsent);
            if map.insert(self.id, Some(unsent)).flatten() != Some(false) && !unsent {
                self.sent.send_modify(|count| *count += 1);
            }
            self.seen.store(*self.sent.borrow(), Ordering::SeqCst);
            map.iter()
                .any(|(id, unsent)| *id != self.id && *unsent != Some(false))
        };
        let mut held = false;
        if others_unsent {
            for op in ops.iter_mut() {
                if let Op::Commit(uploads) = op {
                    let deleted: Vec<_> = uploads
                        .iter()
                        .filter(|u| u.deleted)
                        .map(|u| (u.parent, u.name.clone()))
                        .collect();
                    held |= !deleted.is_empty();
                    uploads
                        .retain(|u| !u.deleted && !deleted.contains(&(u.parent, u.name.clone())));
                }
            }
            ops.retain(|op| !matches!(op, Op::Commit(uploads) if uploads.is_empty()));
        }
        if self.holding.swap(held, Ordering::Relaxed) != held && held {
            tracing::info!(
                "deletions wait until the files new in this folder or its shared folders are \
                 uploaded: a file moved between them is copied first, then deleted"
            );
        }
    }

    /// Whether the last plan held deletions back.
    pub fn holding(&self) -> bool {
        self.holding.load(Ordering::Relaxed)
    }

    /// Completes once another engine of the group was left with nothing to
    /// send (or left the group) since this one last planned: held-back
    /// deletions may go.
    pub fn others_sent(&self) -> impl Future<Output = ()> + Send + 'static {
        let seen = self.seen.load(Ordering::SeqCst);
        let mut sent = self.sent.subscribe();
        async move {
            // The sender lives as long as the group: `wait_for` cannot fail.
            let _ = sent.wait_for(|count| *count != seen).await;
        }
    }
}

impl Drop for Sibling {
    fn drop(&mut self) {
        let mut map = lock(&self.unsent);
        map.remove(&self.id);
        // Those waiting for this engine wait no more.
        self.sent.send_modify(|count| *count += 1);
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
    fn deletions_wait_for_every_other_engine_to_commit_its_files() {
        let group = SiblingGroup::default();
        let own = group.join();
        let mount = group.join();
        // The mount has not looked at its disk yet: hold.
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert!(own.holding());
        assert_eq!(
            ops,
            [
                Op::MarkSynced {
                    id: Uuid::from_u128(9)
                },
                Op::Commit(vec![upload(3, "other.txt", false)])
            ]
        );
        // The mount has new files: still held; its own deletions are not,
        // as the other engine has nothing to send.
        let gone = vec![Op::Commit(vec![upload(4, "gone.txt", true)])];
        let mut mount_ops = gone.clone();
        mount.hold_deletions(true, &mut mount_ops);
        assert_eq!(mount_ops, gone);
        assert!(!mount.holding());
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert!(own.holding());
        // Committed: the deletions go.
        let mut mount_ops = Vec::new();
        mount.hold_deletions(false, &mut mount_ops);
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert_eq!(ops, commit());
        assert!(!own.holding());
        // A stopped mount holds nobody back.
        let mut mount_ops = Vec::new();
        mount.hold_deletions(true, &mut mount_ops);
        drop(mount);
        let mut ops = commit();
        own.hold_deletions(false, &mut ops);
        assert_eq!(ops, commit());
    }
}
