//! The desktop client's sync planner (`nimbus_client::engine::plan`) on
//! random remote, synced and local trees derived from one history: every
//! item has a merge base (or none), and each side keeps it, moves it,
//! renames it, changes its bytes or deletes it.
//!
//! Checked on every plan, per the planner's rules: at most one action per
//! item; no two actions put something at one place, and nothing is put where
//! a local item stays; a local file is deleted or overwritten only when its
//! bytes are the synced ones (the server has them); a conflicted copy goes to
//! a name free on both sides; the commit deletes on the server only what this
//! device saw and the user deleted here, with everything inside; and trees
//! that agree plan nothing. (Convergence over many batches, with crashes, is
//! the seeded simulation's job: `desktop-client/tests/sim`.)
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nimbus_client::engine::{ItemId, Node, Op, PlanContext, Tree, Trees, plan};
use nimbus_client::fs::case_fold;
use uuid::Uuid;

const NAMES: [&str; 7] = ["a", "b", "A", "a.txt", "docs", "\u{e9}", "skip~"];

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Side {
    Same,
    Gone,
    Moved(u8),
    Renamed(u8),
    Edited(u8),
}

#[derive(Debug, Arbitrary)]
struct Item {
    is_folder: bool,
    /// Index of an earlier item (its folder), if any.
    parent: Option<u8>,
    name: u8,
    size: u8,
    version: u8,
    /// Whether the item was synced (else it is new on one side).
    synced: bool,
    local: Side,
    remote: Side,
    /// For a new item: on the remote side, else the local one.
    new_remote: bool,
}

#[derive(Debug, Arbitrary)]
struct Input {
    items: Vec<Item>,
    case_insensitive: bool,
    stuck: Option<u8>,
}

fn id(index: usize) -> ItemId {
    Uuid::from_u128(index as u128 + 1)
}

fn hash(size: u8, edit: u8) -> Option<String> {
    Some(format!("blake3:{size:02x}{edit:02x}"))
}

/// Adds nodes in index order, keeping the tree valid: a parent that is not a
/// folder of this tree, or a name (folded, on a case-insensitive disk) that
/// is taken, leaves the node out.
fn build(nodes: Vec<Node>, fold: bool) -> Tree {
    let mut tree = Tree::new();
    let mut taken = BTreeSet::new();
    for node in nodes {
        if node
            .parent
            .is_some_and(|p| tree.get(&p).is_none_or(|parent| !parent.is_folder))
        {
            continue;
        }
        let key = if fold {
            case_fold(&node.name)
        } else {
            node.name.clone()
        };
        if taken.insert((node.parent, key)) {
            tree.insert(node);
        }
    }
    tree
}

fn side(base: &Node, change: Side, index: usize, remote: bool) -> Option<Node> {
    let mut node = base.clone();
    match change {
        Side::Same => {}
        Side::Gone => return None,
        // Only into earlier items: no cycles.
        Side::Moved(pick) => node.parent = (index > 0).then(|| id(usize::from(pick) % index)),
        Side::Renamed(pick) => node.name = NAMES[usize::from(pick) % NAMES.len()].to_owned(),
        Side::Edited(edit) if !node.is_folder => {
            node.size = node.size.wrapping_add(u64::from(edit) % 3);
            node.hash = hash(node.size as u8, edit.wrapping_add(1));
        }
        Side::Edited(_) => {}
    }
    if remote && node != *base {
        node.version += 1;
    }
    Some(node)
}

fn trees(input: &Input) -> Trees {
    let (mut remote, mut synced, mut local) = (Vec::new(), Vec::new(), Vec::new());
    for (index, item) in input.items.iter().enumerate() {
        let base = Node {
            id: id(index),
            parent: item
                .parent
                .filter(|_| index > 0)
                .map(|pick| id(usize::from(pick) % index)),
            name: NAMES[usize::from(item.name) % NAMES.len()].to_owned(),
            is_folder: item.is_folder,
            size: if item.is_folder {
                0
            } else {
                u64::from(item.size)
            },
            hash: (!item.is_folder).then(|| hash(item.size, 0)).flatten(),
            version: u64::from(item.version).max(1),
            mtime: 0,
            inode: 0,
            chunks: Vec::new(),
            chunker: None,
            chunk_workspace: None,
        };
        if item.synced {
            synced.push(base.clone());
            remote.extend(side(&base, item.remote, index, true));
            local.extend(side(&base, item.local, index, false));
        } else if item.new_remote {
            remote.push(base);
        } else {
            local.push(base);
        }
    }
    let local = local
        .into_iter()
        .map(|node| Node {
            version: 0,
            inode: node.id.as_u128() as u64,
            ..node
        })
        .collect();
    Trees::new(
        build(remote, false),
        build(local, input.case_insensitive),
        build(synced, false),
    )
}

fn ignored(path: &str, _is_folder: bool) -> bool {
    path.ends_with('~')
}

/// A place as this disk tells names apart.
fn place(parent: Option<ItemId>, name: &str, fold: bool) -> (Option<ItemId>, String) {
    (
        parent,
        if fold {
            case_fold(name)
        } else {
            name.to_owned()
        },
    )
}

fn check(trees: &Trees, ops: &[Op], fold: bool, stuck: &BTreeSet<ItemId>) {
    let t = trees;
    let mut acted: BTreeSet<ItemId> = BTreeSet::new();
    let mut destinations: BTreeMap<(Option<ItemId>, String), &Op> = BTreeMap::new();
    let local_holders = |at: &(Option<ItemId>, String), except: ItemId| -> Vec<ItemId> {
        t.local
            .nodes()
            .filter(|n| n.id != except && place(n.parent, &n.name, fold) == *at)
            .map(|n| n.id)
            .collect()
    };
    let mut leaving: BTreeSet<ItemId> = BTreeSet::new();
    for op in ops {
        match op {
            Op::LocalMove { id, .. } | Op::ConflictCopy { id, .. } | Op::LocalDelete { id } => {
                leaving.insert(*id);
            }
            _ => {}
        }
    }
    for op in ops {
        let (item, destination) = match op {
            Op::Commit(uploads) => {
                let mut ids = BTreeSet::new();
                let deleted: BTreeSet<ItemId> =
                    uploads.iter().filter(|u| u.deleted).map(|u| u.id).collect();
                for upload in uploads {
                    // A temporary step aside and the final place are one item twice.
                    if !ids.insert(upload.id) {
                        continue;
                    }
                    assert!(
                        acted.insert(upload.id),
                        "{:?} acted on twice: {ops:?}",
                        upload.id
                    );
                    if upload.deleted {
                        let s = t.synced.get(&upload.id).expect("deletes what was synced");
                        let r = t.remote.get(&upload.id).expect("deletes what is there");
                        assert_eq!(r.version, s.version, "deletes an unseen version");
                        assert!(!t.local.contains(&upload.id), "deletes what is still here");
                        for child in t.remote.children(Some(upload.id)) {
                            // A stuck child is left alone: the server then
                            // refuses the folder's deletion.
                            assert!(
                                stuck.contains(&child) || deleted.contains(&child),
                                "deletes {:?} but not {child:?} in it",
                                upload.id
                            );
                        }
                    }
                }
                continue;
            }
            Op::LocalMove { id, parent, name } => (*id, Some(place(*parent, name, fold))),
            Op::ConflictCopy { id, name } => {
                let l = t.local.get(id).expect("a local item");
                let remote_parent = l.parent.filter(|p| t.remote.contains(p));
                assert!(
                    t.remote.child(remote_parent, name).is_none(),
                    "conflicted copy {name:?} is taken remotely"
                );
                (*id, Some(place(l.parent, name, fold)))
            }
            Op::LocalDelete { id } => {
                let l = t.local.get(id).expect("deletes a local item");
                if !l.is_folder {
                    let known = [t.synced.get(id), t.remote.get(id)]
                        .into_iter()
                        .flatten()
                        .any(|n| l.same_content(n));
                    assert!(known, "deletes local bytes the server lacks: {l:?}");
                }
                (*id, None)
            }
            Op::Download { id } | Op::MakeFolder { id } => {
                let r = t.remote.get(id).expect("a remote item");
                match t.local.get(id) {
                    Some(l) => {
                        let s = t.synced.get(id).expect("a synced item");
                        assert!(l.same_content(s), "overwrites a local edit: {l:?}");
                        (*id, None)
                    }
                    None => (*id, Some(place(r.parent, &r.name, fold))),
                }
            }
            Op::Adopt { local, remote } => {
                assert!(t.local.contains(local) && t.remote.contains(remote));
                assert!(!t.synced.contains(local));
                (*local, None)
            }
            Op::Reid { id } | Op::MarkSynced { id } | Op::Forget { id } => (*id, None),
        };
        assert!(acted.insert(item), "{item:?} acted on twice: {ops:?}");
        if let Some(at) = destination {
            if let Some(other) = destinations.insert(at.clone(), op) {
                panic!("{op:?} and {other:?} both go to {at:?}");
            }
            for holder in local_holders(&at, item) {
                assert!(
                    leaving.contains(&holder),
                    "{op:?} goes where {holder:?} stays"
                );
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let trees = trees(&input);
    let stuck: BTreeSet<ItemId> = input
        .stuck
        .map(|pick| id(usize::from(pick)))
        .into_iter()
        .collect();
    let ctx = PlanContext {
        device: "fuzz",
        now_ms: 1_800_000_000_000,
        ignored: &ignored,
        stuck: &stuck,
        case_insensitive: input.case_insensitive,
    };
    let ops = plan(&trees, &ctx);
    check(&trees, &ops, input.case_insensitive, &stuck);
    assert_eq!(plan(&trees, &ctx), ops, "planning is deterministic");

    // Both sides agree with the merge base: nothing to do.
    let settled = Trees::new(
        trees.remote.clone(),
        build(
            trees
                .remote
                .nodes()
                .map(|n| Node {
                    version: 0,
                    ..n.clone()
                })
                .collect(),
            false,
        ),
        trees.remote.clone(),
    );
    let ctx = PlanContext {
        case_insensitive: false,
        ..ctx
    };
    assert_eq!(plan(&settled, &ctx), Vec::new(), "{settled:?}");
});
