//! The planner: a pure function of the three trees (and a small context)
//! that returns the next batch of operations.
//!
//! The driver runs plan → execute → plan … until the plan is empty. Each
//! batch holds at most one operation per item. Local operations whose
//! preconditions do not hold yet (parent not created, name still taken) are
//! deferred to a later batch. Uploads that depend on each other (a name
//! freed or a folder moved out by another item of the batch) go up in one
//! commit, ordered so that the server, which applies items in order, accepts
//! each (see `Planner::finish`). Rules, per item id, with L/S/R = local,
//! synced, remote:
//!
//! * only one side changed: apply that side to the other;
//! * both changed content differently: the remote version keeps the name,
//!   the local bytes become a conflicted copy (a new item);
//! * both changed placement differently: the remote placement wins (no bytes
//!   are involved);
//! * local edit vs remote delete: the edit is kept (as a new item, so that
//!   folders deleted around it come back too);
//! * local delete vs any remote change: the remote version is restored;
//! * a folder is deleted only when nothing unseen or unsynced is inside it;
//! * a new local item whose name a remote item holds: same folder or same
//!   bytes are adopted as that item (merging on first link), anything else is
//!   renamed to a conflicted copy. Nothing a user wrote is deleted.
//!
//! On a case-insensitive disk ([`PlanContext::case_insensitive`]) the
//! server may hold names that differ only in case (`Report.txt` and
//! `report.txt`, made on Linux) that cannot sit side by side here. Of each
//! such group one item is placed: the one already on disk, else the first
//! by id (ids are UUID v7: the oldest). The others stay on the server, untouched, and are reported by
//! [`case_clashes`]. One that is on disk already (a remote rename made it
//! clash) is treated as deleted remotely: an unchanged copy stops being
//! synced, then is removed (its bytes stay on the server); a changed one is
//! kept as a new item.
//! Giving the others a local alias instead would need a per-device name
//! mapping in every rule above; renaming them on the server would change
//! the other devices' files behind their users' backs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::names::conflicted_copy_name;
use super::tree::{ItemId, Node, Tree, Trees};
use crate::fs::case_fold;

/// What the planner needs besides the trees.
pub struct PlanContext<'a> {
    /// This device's name, for conflicted copies.
    pub device: &'a str,
    /// Current time, for conflicted copies.
    pub now_ms: i64,
    /// Whether a path (relative, `/`-separated) is excluded from sync.
    pub ignored: &'a dyn Fn(&str, bool) -> bool,
    /// Items the server refused for good: left alone until they change.
    pub stuck: &'a BTreeSet<ItemId>,
    /// The local disk takes names that differ only in case for one.
    pub case_insensitive: bool,
}

/// One item of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: ItemId,
    pub base_version: u64,
    pub parent: Option<ItemId>,
    pub name: String,
    pub is_folder: bool,
    pub deleted: bool,
    /// The local bytes differ from the remote ones: read and upload them.
    pub content_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Upload changed contents, then commit these items in one request.
    Commit(Vec<Upload>),
    /// Write the remote file's bytes at its remote place (temp file + rename).
    Download { id: ItemId },
    /// Create the remote folder locally.
    MakeFolder { id: ItemId },
    /// Rename or move a local item.
    LocalMove {
        id: ItemId,
        parent: Option<ItemId>,
        name: String,
    },
    /// Delete a local file, or a local folder that is empty by then.
    LocalDelete { id: ItemId },
    /// Rename the local item to `name` and make it a new item: the local
    /// side of a conflict.
    ConflictCopy { id: ItemId, name: String },
    /// Keep the local item where it is as a new item (its remote twin was
    /// deleted while it changed).
    Reid { id: ItemId },
    /// The new local item `local` is the remote item `remote`.
    Adopt { local: ItemId, remote: ItemId },
    /// Both sides agree: the synced state becomes the remote one.
    MarkSynced { id: ItemId },
    /// Both sides deleted the item.
    Forget { id: ItemId },
}

impl Op {
    fn item(&self) -> Option<ItemId> {
        match self {
            Op::Commit(_) => None,
            Op::Download { id }
            | Op::MakeFolder { id }
            | Op::LocalMove { id, .. }
            | Op::LocalDelete { id }
            | Op::ConflictCopy { id, .. }
            | Op::Reid { id }
            | Op::MarkSynced { id }
            | Op::Forget { id } => Some(*id),
            Op::Adopt { local, .. } => Some(*local),
        }
    }
}

/// Plans the next batch. Local deletions come children first, the commit
/// (if any) last.
pub fn plan(trees: &Trees, ctx: &PlanContext<'_>) -> Vec<Op> {
    Planner::new(trees, ctx).run()
}

/// A remote item that is not synced to this case-insensitive disk because
/// an item whose name differs only in case holds its name here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseClash {
    /// Its path on the server.
    pub path: String,
    /// The path of the item that holds the name here.
    pub holder: String,
}

impl fmt::Display for CaseClash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: not synced here: name differs only in case from {} \
             (it stays on the server; rename one of them to sync both)",
            self.path, self.holder
        )
    }
}

/// The remote items this disk cannot hold, by server path.
pub fn case_clashes(trees: &Trees, ctx: &PlanContext<'_>) -> Vec<CaseClash> {
    let planner = Planner::new(trees, ctx);
    let Some(case) = &planner.case else {
        return Vec::new();
    };
    let mut clashes: Vec<CaseClash> = case
        .shadowed
        .iter()
        .filter_map(|(id, holder)| {
            Some(CaseClash {
                path: trees.remote.path(id)?,
                holder: trees
                    .local
                    .path(holder)
                    .or_else(|| trees.remote.path(holder))?,
            })
        })
        .collect();
    clashes.sort_by(|a, b| a.path.cmp(&b.path));
    clashes
}

struct Planner<'a> {
    t: &'a Trees,
    ctx: &'a PlanContext<'a>,
    ops: BTreeMap<ItemId, Op>,
    uploads: BTreeMap<ItemId, Upload>,
    deletable_memo: std::cell::RefCell<BTreeMap<ItemId, Verdict>>,
    /// On a case-insensitive disk: what it cannot hold.
    case: Option<CaseView>,
}

/// A parent and a case-folded name.
type FoldedPlace = (Option<ItemId>, String);

/// What a case-insensitive disk cannot hold, worked out once per plan.
#[derive(Default)]
struct CaseView {
    /// Local items by parent and folded name.
    local: BTreeMap<FoldedPlace, Vec<ItemId>>,
    /// Remote items by parent and folded name.
    remote: BTreeMap<FoldedPlace, Vec<ItemId>>,
    /// Remote items shadowed for good, with the item that holds the name.
    shadowed: BTreeMap<ItemId, ItemId>,
    /// Remote items that must not be placed yet: another item holds or
    /// takes their name first.
    waiting: BTreeSet<ItemId>,
    /// Shadowed items and everything remote inside them: planned as if
    /// deleted remotely. A copy on disk gives way (kept as a new item if it
    /// holds local changes); one missing from disk is forgotten, never
    /// deleted on the server: giving way may have been cut short by a crash.
    hidden: BTreeSet<ItemId>,
}

impl CaseView {
    fn new(t: &Trees, ignored: &dyn Fn(&str, bool) -> bool) -> Self {
        let folded = |tree: &Tree| {
            let mut places: BTreeMap<FoldedPlace, Vec<ItemId>> = BTreeMap::new();
            for node in tree.nodes() {
                places
                    .entry((node.parent, case_fold(&node.name)))
                    .or_default()
                    .push(node.id);
            }
            places
        };
        let local = folded(&t.local);
        let remote = folded(&t.remote);
        let mut view = CaseView::default();
        for (place, members) in &remote {
            if place.0.is_some_and(|p| !t.local.contains(&p)) {
                continue; // nothing is placed under a parent not on disk
            }
            let holders = local.get(place).map(Vec::as_slice).unwrap_or_default();
            if members.len() == 1 && holders.iter().all(|h| *h == members[0]) {
                continue;
            }
            view.rank_group(t, members, holders, ignored);
        }
        view.local = local;
        view.remote = remote;
        let shadowed: Vec<ItemId> = view.shadowed.keys().copied().collect();
        for id in shadowed {
            view.hide_subtree(&t.remote, id);
        }
        view
    }

    /// Decides the standing of remote items whose names fold alike under
    /// one parent, given the local items there with such a name.
    fn rank_group(
        &mut self,
        t: &Trees,
        members: &[ItemId],
        holders: &[ItemId],
        ignored: &dyn Fn(&str, bool) -> bool,
    ) {
        // A local item that is not one of the group holds the name. One the
        // server knows moves away or is deleted; a new one goes up and joins
        // the group: wait for either. An ignored one stays.
        let outsider = holders.iter().find(|h| !members.contains(h)).copied();
        let outsider_stays = outsider.is_some_and(|h| {
            !t.remote.contains(&h)
                && !t.synced.contains(&h)
                && t.local
                    .get(&h)
                    .zip(t.local.path(&h))
                    .is_some_and(|(l, path)| ignored(&path, l.is_folder))
        });
        // 0: on disk under this name; 1: on disk elsewhere; 2: not on disk.
        let rank = |id: &ItemId| -> u8 {
            if holders.contains(id) {
                0
            } else if t.local.contains(id) {
                1
            } else {
                2
            }
        };
        let candidates: Vec<ItemId> = members
            .iter()
            .filter(|id| {
                rank(id) == 0
                    || t.remote
                        .get(id)
                        .zip(t.remote.path(id))
                        .is_some_and(|(r, path)| !ignored(&path, r.is_folder))
            })
            .copied()
            .collect();
        let winner = candidates.iter().min_by_key(|id| (rank(id), **id)).copied();
        for id in members {
            match (outsider, winner) {
                (Some(holder), _) if outsider_stays => {
                    self.shadowed.insert(*id, holder);
                }
                (Some(_), _) => {
                    self.waiting.insert(*id);
                }
                (None, Some(winner)) if winner == *id => {}
                (None, Some(winner)) if rank(&winner) == 0 => {
                    self.shadowed.insert(*id, winner);
                }
                (None, _) => {
                    self.waiting.insert(*id);
                }
            }
        }
    }

    fn hide_subtree(&mut self, remote: &Tree, id: ItemId) {
        if self.hidden.insert(id) {
            for child in remote.children(Some(id)) {
                self.hide_subtree(remote, child);
            }
        }
    }

    /// The local item, other than `except`, whose name is `name` but for case.
    fn holder(&self, parent: Option<ItemId>, name: &str, except: ItemId) -> Option<ItemId> {
        self.local
            .get(&(parent, case_fold(name)))?
            .iter()
            .find(|id| **id != except)
            .copied()
    }

    /// Whether the remote item may take its remote name on disk now.
    fn may_place(&self, id: &ItemId) -> bool {
        !self.shadowed.contains_key(id) && !self.waiting.contains(id)
    }

    /// A remote item never seen here whose name is the local item `l`'s
    /// but for case: `l` clashes with it as with one of the same name.
    fn unseen_twin(&self, t: &Trees, l: &Node) -> Option<ItemId> {
        self.remote
            .get(&(l.parent, case_fold(&l.name)))?
            .iter()
            .find(|id| **id != l.id && !t.local.contains(id) && !t.synced.contains(id))
            .copied()
    }
}

/// What a remote deletion means for a local subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Everything in it is unchanged: delete it locally.
    Delete,
    /// Something in it is being moved out first: wait.
    Wait,
    /// It holds local work: keep it (as a new item).
    Keep,
}

impl<'a> Planner<'a> {
    fn new(t: &'a Trees, ctx: &'a PlanContext<'a>) -> Self {
        Self {
            t,
            ctx,
            ops: BTreeMap::new(),
            uploads: BTreeMap::new(),
            deletable_memo: Default::default(),
            case: ctx.case_insensitive.then(|| CaseView::new(t, ctx.ignored)),
        }
    }

    /// The remote node of `id` as far as this disk is concerned: items
    /// giving way to a case clash count as deleted remotely.
    fn remote(&self, id: &ItemId) -> Option<&'a Node> {
        self.t.remote.get(id).filter(|_| !self.hidden(id))
    }

    /// The local item, other than `except`, that holds `name` under
    /// `parent`: the same name, or on a case-insensitive disk one that
    /// differs only in case.
    fn local_holder(&self, parent: Option<ItemId>, name: &str, except: ItemId) -> Option<ItemId> {
        match &self.case {
            Some(case) => case.holder(parent, name, except),
            None => self.t.local.child(parent, name).filter(|h| *h != except),
        }
    }

    /// Whether the item gives way to a case clash (see [`CaseView::hidden`]).
    fn hidden(&self, id: &ItemId) -> bool {
        self.case.as_ref().is_some_and(|c| c.hidden.contains(id))
    }

    /// Whether `l` is in a local folder that gives way to a case clash: it
    /// goes up once that folder is a new item, not into the server's one.
    fn in_hidden_folder(&self, l: &Node) -> bool {
        l.parent.is_some_and(|p| self.hidden(&p))
    }

    /// Whether the remote item may take its name on disk now (always, on a
    /// case-sensitive disk).
    fn may_place(&self, id: &ItemId) -> bool {
        self.case.as_ref().is_none_or(|c| c.may_place(id))
    }

    fn run(mut self) -> Vec<Op> {
        // An item in sync needs nothing of its own; what another item needs
        // of it (its name, its folder) that item's rules emit. Only a
        // case-insensitive disk plans every item: a clash anywhere under a
        // parent can hide an item in sync (`CaseView::hidden`).
        let ids: BTreeSet<ItemId> = if self.case.is_some() {
            self.t
                .remote
                .ids()
                .chain(self.t.local.ids())
                .chain(self.t.synced.ids())
                .copied()
                .collect()
        } else {
            self.t.unsettled()
        };
        for id in ids {
            if self.ctx.stuck.contains(&id) || self.ops.contains_key(&id) {
                continue;
            }
            self.plan_item(id);
        }
        self.finish()
    }

    fn emit(&mut self, op: Op) {
        if let Some(id) = op.item() {
            self.ops.entry(id).or_insert(op);
        }
    }

    fn upload(&mut self, upload: Upload) {
        if !self.ops.contains_key(&upload.id) {
            self.uploads.insert(upload.id, upload);
        }
    }

    fn plan_item(&mut self, id: ItemId) {
        let t = self.t;
        let (l, s, r) = (t.local.get(&id), t.synced.get(&id), self.remote(&id));
        match (l, s, r) {
            (None, None, Some(r)) => self.place_locally(r),
            // A copy giving way to a case clash, no longer synced: it goes
            // if it holds nothing the server lacks, else it stays as a new
            // item.
            (Some(l), None, None) if self.hidden(&id) => match self.local_keep(id) {
                Verdict::Delete => self.emit(Op::LocalDelete { id }),
                Verdict::Wait => {}
                Verdict::Keep => {
                    if !self.ignored_local(l) {
                        self.emit(Op::Reid { id });
                    }
                }
            },
            (Some(l), None, None) => self.upload_new(l),
            (Some(l), None, Some(r)) => {
                if l.same_content(r)
                    && self.case.is_some()
                    && l.parent == r.parent
                    && l.name != r.name
                    && case_fold(&l.name) == case_fold(&r.name)
                {
                    // Adopted across a difference in case: the server's
                    // spelling wins, as it does for a whole name.
                    self.move_locally(l, r.parent, &r.name);
                } else if l.same_content(r) {
                    self.emit(Op::MarkSynced { id });
                } else {
                    self.conflict_copy(l);
                }
            }
            (None, Some(_), None) => self.emit(Op::Forget { id }),
            (None, Some(s), Some(r)) => {
                if r.version == s.version && self.remote_deletable(id) {
                    self.upload(Upload {
                        id,
                        base_version: r.version,
                        parent: r.parent,
                        name: r.name.clone(),
                        is_folder: r.is_folder,
                        deleted: true,
                        content_changed: false,
                    });
                } else {
                    // A remote change, or unseen items inside: restore.
                    self.place_locally(r);
                }
            }
            (Some(l), Some(_), None) => match self.local_keep(id) {
                // A copy giving way to a case clash first stops being
                // synced, then goes (above): were it deleted first, a crash
                // before the state is saved would make the deletion look
                // like the user's, and it would be sent to the server.
                Verdict::Delete if self.hidden(&id) => self.emit(Op::Forget { id }),
                Verdict::Delete => self.emit(Op::LocalDelete { id }),
                Verdict::Wait => {}
                Verdict::Keep => {
                    if !self.ignored_local(l) {
                        self.emit(Op::Reid { id });
                    }
                }
            },
            (Some(l), Some(s), Some(r)) => self.both_present(l, s, r),
            (None, None, None) => {}
        }
    }

    fn ignored_local(&self, l: &Node) -> bool {
        self.t
            .local
            .path(&l.id)
            .is_some_and(|p| (self.ctx.ignored)(&p, l.is_folder))
    }

    fn both_present(&mut self, l: &Node, s: &Node, r: &Node) {
        let id = l.id;
        let remote_content = r.version != s.version && !r.same_content(s);
        let local_content = !l.same_content(s);
        if local_content && remote_content && !l.same_content(r) {
            self.conflict_copy(l);
            return;
        }
        let remote_place = !r.same_place(s);
        let local_place = !l.same_place(s);
        if remote_place && !l.same_place(r) {
            // The remote placement wins (also over a different local move).
            self.move_locally(l, r.parent, &r.name);
            return;
        }
        if remote_content && !local_content {
            // New bytes where the local item is now (a local move commits later).
            self.emit(Op::Download { id });
            return;
        }
        let upload_content = local_content && !l.same_content(r);
        if upload_content || (local_place && !l.same_place(r)) {
            self.upload_change(l, r, upload_content);
            return;
        }
        if s != r {
            self.emit(Op::MarkSynced { id });
        }
    }

    /// Conflicted copy of a local item, at a name free on both sides.
    fn conflict_copy(&mut self, l: &Node) {
        let name = self.free_name(l.parent, &l.name);
        self.emit(Op::ConflictCopy { id: l.id, name });
    }

    fn free_name(&self, parent: Option<ItemId>, name: &str) -> String {
        let mut attempt = 0;
        loop {
            let candidate = conflicted_copy_name(name, self.ctx.device, self.ctx.now_ms, attempt);
            let remote_parent = parent.filter(|p| self.t.remote.contains(p));
            if self
                .local_holder(parent, &candidate, ItemId::nil())
                .is_none()
                && self.t.remote.child(remote_parent, &candidate).is_none()
            {
                return candidate;
            }
            attempt += 1;
        }
    }

    /// Creates the remote item `r` locally at its remote place.
    fn place_locally(&mut self, r: &Node) {
        let Some(path) = self.t.remote.path(&r.id) else {
            return;
        };
        if (self.ctx.ignored)(&path, r.is_folder) {
            return;
        }
        if let Some(parent) = r.parent
            && !self.t.local.contains(&parent)
        {
            return; // created once the parent is
        }
        if let Some(holder) = self.local_holder(r.parent, &r.name, r.id) {
            self.make_room(holder);
            return;
        }
        if !self.may_place(&r.id) {
            return; // another item whose name differs only in case goes here
        }
        let id = r.id;
        if r.is_folder {
            self.emit(Op::MakeFolder { id });
        } else {
            self.emit(Op::Download { id });
        }
    }

    /// A local item holds a name a remote item needs. Items that will move
    /// away are moved to a temporary name if their own target is taken
    /// (breaking swap cycles); other holders are handled by their own rules.
    fn make_room(&mut self, holder: ItemId) {
        let t = self.t;
        let Some(hl) = t.local.get(&holder) else {
            return;
        };
        let Some(hs) = t.synced.get(&holder) else {
            return; // new local work: its own rules handle the clash
        };
        let Some(hr) = self.remote(&holder) else {
            // Deleted remotely but not deletable yet (things move out of
            // it first): step aside so that the new item can come in.
            if self.local_keep(holder) == Verdict::Wait {
                let name = self.free_name(hl.parent, &hl.name);
                self.emit(Op::LocalMove {
                    id: holder,
                    parent: hl.parent,
                    name,
                });
            }
            return;
        };
        if hr.same_place(hs) || hr.same_place(hl) {
            return;
        }
        // Its own move cannot happen now: step aside to a temporary name.
        let blocked = self.local_holder(hr.parent, &hr.name, holder).is_some()
            || hr
                .parent
                .is_some_and(|p| !t.local.contains(&p) || t.local.is_ancestor_or_self(holder, p));
        if blocked {
            let name = self.free_name(hl.parent, &hl.name);
            self.emit(Op::LocalMove {
                id: holder,
                parent: hl.parent,
                name,
            });
        }
    }

    /// Moves a local item to (`parent`, `name`) when the local file system allows.
    fn move_locally(&mut self, l: &Node, parent: Option<ItemId>, name: &str) {
        let t = self.t;
        if let Some(p) = parent {
            if !t.local.contains(&p) {
                return;
            }
            if l.is_folder && t.local.is_ancestor_or_self(l.id, p) {
                return; // wait until the target parent moved out
            }
        }
        if let Some(holder) = self.local_holder(parent, name, l.id) {
            self.make_room(holder);
            return;
        }
        if !self.may_place(&l.id) {
            return;
        }
        self.emit(Op::LocalMove {
            id: l.id,
            parent,
            name: name.to_owned(),
        });
    }

    /// A local item the server does not know.
    fn upload_new(&mut self, l: &Node) {
        if self.ignored_local(l) || self.in_hidden_folder(l) {
            return;
        }
        let holder = self.t.remote.child(l.parent, &l.name).or_else(|| {
            self.case
                .as_ref()
                .and_then(|case| case.unseen_twin(self.t, l))
        });
        if let Some(holder) = holder
            && !self.clash(l, holder)
        {
            return;
        }
        self.upload(Upload {
            id: l.id,
            base_version: 0,
            parent: l.parent,
            name: l.name.clone(),
            is_folder: l.is_folder,
            deleted: false,
            content_changed: !l.is_folder,
        });
    }

    /// A local item `l` wants the name the remote item `holder` has.
    /// Returns true when the holder frees the name in the same commit, so
    /// that `l` goes up too, ordered after it by [`Planner::finish`].
    fn clash(&mut self, l: &Node, holder: ItemId) -> bool {
        let t = self.t;
        let Some(hr) = t.remote.get(&holder) else {
            return false;
        };
        let hl = t.local.get(&holder);
        let hs = t.synced.get(&holder);
        match (hl, hs) {
            (None, None) => {
                let same = (l.is_folder && hr.is_folder) || (!l.is_folder && l.same_content(hr));
                if same && t.synced.get(&l.id).is_none() {
                    self.emit(Op::Adopt {
                        local: l.id,
                        remote: holder,
                    });
                } else {
                    self.conflict_copy(l);
                }
                false
            }
            // The holder was deleted locally: its deletion frees the name
            // (in this commit for a file; a folder's deletion comes last),
            // unless it changed remotely and comes back.
            (None, Some(hs)) => {
                if hr.version != hs.version || !self.remote_deletable(holder) {
                    self.conflict_copy(l);
                    false
                } else {
                    true
                }
            }
            // The holder moved away locally (and not remotely): its move
            // frees the name earlier in the same commit, unless it is a
            // folder move that a remote move turned into a cycle (the remote
            // placement wins, see `upload_change`).
            (Some(hl), Some(hs))
                if !hl.same_place(hr)
                    && hr.same_place(hs)
                    && !(hr.is_folder && self.merged_cycle(holder, hl.parent)) =>
            {
                true
            }
            _ => {
                self.conflict_copy(l);
                false
            }
        }
    }

    /// Where an item will be once this round is done: its local place when
    /// that goes up (a local move the remote side did not contradict), else
    /// its remote place. `None`: not known on either side.
    fn merged_parent(&self, id: ItemId) -> Option<Option<ItemId>> {
        let t = self.t;
        match (t.local.get(&id), t.synced.get(&id), t.remote.get(&id)) {
            (Some(l), Some(s), Some(r)) => {
                if r.same_place(s) || l.same_place(r) {
                    Some(l.parent)
                } else {
                    Some(r.parent)
                }
            }
            (Some(l), _, _) => Some(l.parent),
            (None, _, Some(r)) => Some(r.parent),
            (None, _, None) => None,
        }
    }

    /// Whether moving folder `id` under `parent` would put it inside itself
    /// once both sides' moves of this round are applied.
    fn merged_cycle(&self, id: ItemId, parent: Option<ItemId>) -> bool {
        let mut cursor = parent;
        let mut steps = 0;
        let limit = self.t.local.len() + self.t.remote.len() + 1;
        while let Some(current) = cursor {
            if current == id || steps > limit {
                return true;
            }
            steps += 1;
            cursor = self.merged_parent(current).flatten();
        }
        false
    }

    /// A synced item changed locally (content and/or placement).
    fn upload_change(&mut self, l: &Node, r: &Node, content_changed: bool) {
        let t = self.t;
        if !l.same_place(r) {
            if self.in_hidden_folder(l) {
                return;
            }
            if let Some(holder) = t.remote.child(l.parent, &l.name)
                && holder != l.id
                && !self.clash(l, holder)
            {
                return;
            }
            if r.is_folder && self.merged_cycle(l.id, l.parent) {
                // Moving into a folder that a remote move put inside it:
                // the remote placement wins. (Local moves alone never make
                // a cycle: they are ordered within the commit.)
                self.move_locally(l, r.parent, &r.name);
                return;
            }
        }
        self.upload(Upload {
            id: l.id,
            base_version: r.version,
            parent: l.parent,
            name: l.name.clone(),
            is_folder: l.is_folder,
            deleted: false,
            content_changed,
        });
    }

    /// A locally deleted folder may be deleted remotely only if everything
    /// remote inside it was seen and is deleted locally too.
    fn remote_deletable(&self, id: ItemId) -> bool {
        let t = self.t;
        t.remote.children(Some(id)).into_iter().all(|child| {
            let (cs, cr) = (t.synced.get(&child), t.remote.get(&child));
            t.local.get(&child).is_none()
                && matches!((cs, cr), (Some(s), Some(r)) if s.version == r.version)
                && self.remote_deletable(child)
        })
    }

    /// What a remote deletion of `id` means locally.
    fn local_keep(&self, id: ItemId) -> Verdict {
        if let Some(known) = self.deletable_memo.borrow().get(&id) {
            return *known;
        }
        let t = self.t;
        let keep = match (t.local.get(&id), t.synced.get(&id), self.remote(&id)) {
            (Some(l), Some(s), None) => self.keep_contents(id, l, s, false),
            // A copy giving way to a case clash, no longer synced: compared
            // with the server's version.
            (Some(l), None, None) if self.hidden(&id) => match t.remote.get(&id) {
                Some(r) => self.keep_contents(id, l, r, true),
                None => Verdict::Keep,
            },
            // Remote still has it elsewhere. Moved in here locally (and not
            // moved remotely): local work, keep the folder. Else it moves
            // out first.
            (Some(l), Some(s), Some(r)) => {
                if !l.same_place(s) && r.same_place(s) {
                    Verdict::Keep
                } else {
                    Verdict::Wait
                }
            }
            // New local work, or a file the server never agreed on.
            _ => Verdict::Keep,
        };
        self.deletable_memo.borrow_mut().insert(id, keep);
        keep
    }

    /// [`Planner::local_keep`] of a local item, against `base` (its synced
    /// version, or the server's when it gives way to a case clash and is no
    /// longer synced: `unsynced`). Unchanged, its subtree decides; an
    /// unsynced folder also waits for its children to stop being synced.
    fn keep_contents(&self, id: ItemId, l: &Node, base: &Node, unsynced: bool) -> Verdict {
        if !l.same_content(base) {
            return Verdict::Keep;
        }
        let mut verdict = Verdict::Delete;
        for child in self.t.local.children(Some(id)) {
            match self.local_keep(child) {
                Verdict::Keep => return Verdict::Keep,
                Verdict::Delete if unsynced && self.t.synced.contains(&child) => {
                    verdict = Verdict::Wait;
                }
                Verdict::Wait => verdict = Verdict::Wait,
                Verdict::Delete => {}
            }
        }
        verdict
    }

    /// Orders the batch: local work by depth (deletions children first), then
    /// one commit in an order the server accepts.
    ///
    /// The server applies a commit's items in order, each seeing the effects
    /// of those before it (folder deletions last). So the items are ordered
    /// against the remote tree with each accepted item's effect laid over it
    /// ([`Overlay`]): an item goes once its parent exists, its name is free there
    /// and (for a folder) the parent is not inside it. Dependent moves (B out
    /// of A, then A into B; a swap of two names) thus go up in one commit.
    /// A cycle of name dependencies is broken by giving one of its items a
    /// temporary name in this commit; its real place goes up in the next.
    /// Items that cannot go yet (a parent that is not uploaded) wait for a
    /// later batch.
    fn finish(self) -> Vec<Op> {
        let t = self.t;
        let mut sim = Overlay::new(&t.remote);
        let mut ordered: Vec<Upload> = Vec::new();
        let mut pending: Vec<Upload> = Vec::new();
        let mut folder_deletions: Vec<Upload> = Vec::new();
        for upload in self.uploads.into_values() {
            match (upload.deleted, upload.is_folder) {
                // File deletions first: they free names for what follows.
                (true, false) => {
                    sim.remove(upload.id);
                    ordered.push(upload);
                }
                (true, true) => folder_deletions.push(upload),
                (false, _) => pending.push(upload),
            }
        }
        loop {
            let before = pending.len();
            let mut waiting = Vec::new();
            for upload in pending {
                if sim.placement_ok(&upload) {
                    sim.place(&upload);
                    ordered.push(upload);
                } else {
                    waiting.push(upload);
                }
            }
            pending = waiting;
            if pending.is_empty() {
                break;
            }
            if pending.len() < before {
                continue;
            }
            // Stuck: an item waits for a name held by another waiting item.
            let holder = pending.iter().find_map(|u| {
                sim.child(u.parent, &u.name)
                    .filter(|h| *h != u.id && pending.iter().any(|p| p.id == *h))
            });
            let Some(holder) = holder else {
                break;
            };
            let index = pending
                .iter()
                .position(|p| p.id == holder)
                .expect("found above");
            let mut step_aside = pending.remove(index);
            let here = sim.place_of(holder).expect("holds a name");
            step_aside.name = sim.temporary_name(holder, &here);
            step_aside.parent = here.parent;
            sim.place(&step_aside);
            ordered.push(step_aside);
        }
        // Folder deletions last, parents first: the server applies folder
        // deletions in reverse order, so children go before their folders.
        folder_deletions.sort_by_key(|u| t.remote.depth(&u.id));
        ordered.extend(folder_deletions);
        let mut ops: Vec<Op> = self.ops.into_values().collect();
        let depth = |op: &Op| -> (u8, i64) {
            match op {
                Op::LocalDelete { id } => (1, -(t.local.depth(id) as i64)),
                Op::MakeFolder { id } | Op::Download { id } => (2, t.remote.depth(id) as i64),
                _ => (0, 0),
            }
        };
        ops.sort_by_key(|op| depth(op));
        if !ordered.is_empty() {
            ops.push(Op::Commit(ordered));
        }
        ops
    }
}

/// Where an item is: its parent, its name, and whether it is a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    parent: Option<ItemId>,
    name: String,
    is_folder: bool,
}

/// The remote tree as the server sees it part way through a commit: the
/// items accepted so far laid over the tree, which is read, never copied
/// (ordering a commit of one item costs that item, not the tree).
struct Overlay<'a> {
    base: &'a Tree,
    /// Items placed or removed so far (`None`: removed).
    places: BTreeMap<ItemId, Option<Place>>,
    /// Names taken or freed so far (`None`: freed).
    names: BTreeMap<(Option<ItemId>, String), Option<ItemId>>,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a Tree) -> Self {
        Self {
            base,
            places: BTreeMap::new(),
            names: BTreeMap::new(),
        }
    }

    fn place_of(&self, id: ItemId) -> Option<Place> {
        match self.places.get(&id) {
            Some(place) => place.clone(),
            None => self.base.get(&id).map(|n| Place {
                parent: n.parent,
                name: n.name.clone(),
                is_folder: n.is_folder,
            }),
        }
    }

    fn child(&self, parent: Option<ItemId>, name: &str) -> Option<ItemId> {
        match self.names.get(&(parent, name.to_owned())) {
            Some(holder) => *holder,
            None => self.base.child(parent, name),
        }
    }

    /// Frees the name `id` holds.
    fn vacate(&mut self, id: ItemId) -> Option<Place> {
        let place = self.place_of(id)?;
        if self.child(place.parent, &place.name) == Some(id) {
            self.names.insert((place.parent, place.name.clone()), None);
        }
        Some(place)
    }

    fn remove(&mut self, id: ItemId) {
        self.vacate(id);
        self.places.insert(id, None);
    }

    /// Takes the effect of an accepted upload.
    fn place(&mut self, u: &Upload) {
        let is_folder = self.vacate(u.id).map_or(u.is_folder, |p| p.is_folder);
        self.names.insert((u.parent, u.name.clone()), Some(u.id));
        self.places.insert(
            u.id,
            Some(Place {
                parent: u.parent,
                name: u.name.clone(),
                is_folder,
            }),
        );
    }

    /// Whether `ancestor` is `id` or one of its ancestors (a cycle counts).
    fn is_ancestor_or_self(&self, ancestor: ItemId, id: ItemId) -> bool {
        let limit = self.base.len() + self.places.len() + 1;
        let mut cursor = Some(id);
        let mut steps = 0;
        while let Some(current) = cursor {
            if current == ancestor || steps > limit {
                return true;
            }
            steps += 1;
            cursor = self.place_of(current).and_then(|p| p.parent);
        }
        false
    }

    /// Whether the server would accept `u`'s placement now.
    fn placement_ok(&self, u: &Upload) -> bool {
        let parent_ok = match u.parent {
            None => true,
            Some(p) => {
                self.place_of(p).is_some_and(|n| n.is_folder)
                    && !(u.is_folder && self.is_ancestor_or_self(u.id, p))
            }
        };
        parent_ok && self.child(u.parent, &u.name).is_none_or(|h| h == u.id)
    }

    /// A name, free next to `place` (where `id` is), for a step aside during
    /// a commit: `name.nimbus-move-1a2b3c4d`.
    fn temporary_name(&self, id: ItemId, place: &Place) -> String {
        let id = id.simple().to_string();
        let tag = &id[id.len() - 8..];
        let mut attempt = 0u32;
        loop {
            let suffix = if attempt == 0 {
                format!(".nimbus-move-{tag}")
            } else {
                format!(".nimbus-move-{tag}-{attempt}")
            };
            let budget = nimbus_protocol::names::MAX_NAME_BYTES - suffix.len();
            let mut stem = String::new();
            for c in place.name.chars() {
                if stem.len() + c.len_utf8() > budget {
                    break;
                }
                stem.push(c);
            }
            let candidate = format!("{stem}{suffix}");
            if self.child(place.parent, &candidate).is_none() {
                return candidate;
            }
            attempt += 1;
        }
    }
}
