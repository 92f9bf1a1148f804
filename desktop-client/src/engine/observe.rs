//! Folding a scan of the disk into the local tree, keeping item ids stable:
//! an entry keeps the id of the node with the same inode (a rename or move is
//! one update, not a delete and a create), else of the node at the same path
//! (editors that save by replacing the file), else it gets a new id.
//! Contents are hashed only when size, mtime or inode changed.
//!
//! A scan covers the whole folder or only some paths (those the file
//! watcher named, [`Scope::Paths`]): then only what was known at those
//! paths can be found gone, and the work is that of the paths, not of the
//! tree.

use std::collections::{BTreeMap, BTreeSet};

use super::tree::{ItemId, Node, Tree};
use crate::fs::{FsError, Scan};

/// Hashes the file at a path: `Ok(None)` if it vanished meanwhile.
pub type HashFn<'a> = dyn FnMut(&str) -> Result<Option<String>, FsError> + 'a;

/// Whether the file at a path has this inode now.
pub type InodeAtFn<'a> = dyn FnMut(&str, u64) -> bool + 'a;

/// What a scan looked at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The whole folder: what it did not list is gone.
    Everything,
    /// These paths, and beneath those marked `true` (folders walked to the
    /// bottom). What was known at them and is not listed is gone; the rest
    /// of the tree is as it was. A node elsewhere is taken as moved here
    /// (same inode) only if its own path no longer holds it (`inode_at`).
    Paths(&'a [(String, bool)]),
}

impl Scope<'_> {
    /// Whether the scan looked at `path`.
    fn covers(&self, path: &str) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Paths(paths) => paths.iter().any(|(p, walked)| {
                p == path
                    || (*walked
                        && path
                            .strip_prefix(p.as_str())
                            .is_some_and(|r| r.starts_with('/')))
            }),
        }
    }
}

/// Folds `scan`, which looked at `scope`, into the local tree; returns
/// whether anything changed. Subtrees under unreadable folders, and files
/// that could not be read, keep their previous state: failing to read is
/// never a deletion.
pub fn reconcile(
    local: &mut Tree,
    scan: &Scan,
    scope: Scope<'_>,
    hash: &mut HashFn<'_>,
    new_id: &mut dyn FnMut() -> ItemId,
    inode_at: &mut InodeAtFn<'_>,
) -> bool {
    let old = &*local;
    // The known nodes whose fate the scan decides.
    let covered: BTreeSet<ItemId> = match scope {
        Scope::Everything => old.ids().copied().collect(),
        Scope::Paths(paths) => paths
            .iter()
            .filter_map(|(path, walked)| {
                let id = old.id_at(path)?;
                Some(if *walked { old.subtree(id) } else { vec![id] })
            })
            .flatten()
            .collect(),
    };
    let mut claimed: BTreeSet<ItemId> = BTreeSet::new();
    let mut path_ids: BTreeMap<&str, ItemId> = BTreeMap::new();
    let mut fresh: Vec<Node> = Vec::new();

    // Keep whatever was known under folders that could not be read.
    for unreadable in &scan.unreadable {
        if let Some(id) = old.id_at(unreadable) {
            keep_subtree(old, id, &mut claimed, &mut fresh);
        }
    }

    for entry in &scan.entries {
        let path = entry.path.as_str();
        if scan.unreadable.iter().any(|u| {
            path == u
                || path
                    .strip_prefix(u.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }) {
            continue;
        }
        let (parent_path, name) = match path.rfind('/') {
            Some(i) => (Some(&path[..i]), &path[i + 1..]),
            None => (None, path),
        };
        let parent = match parent_path {
            None => None,
            Some(p) => match path_ids.get(p) {
                Some(id) => Some(*id),
                // Looked at and not listed (skipped, or gone): so is this.
                None if scope.covers(p) => continue,
                // Not looked at: as it was.
                None => match old
                    .id_at(p)
                    .filter(|id| old.get(id).is_some_and(|n| n.is_folder))
                {
                    Some(id) => Some(id),
                    None => continue,
                },
            },
        };
        let stat = entry.stat;
        let usable = |id: &ItemId| {
            !claimed.contains(id) && old.get(id).is_some_and(|n| n.is_folder == stat.is_folder)
        };
        let id = old
            .by_inode(stat.inode)
            .filter(|id| {
                stat.inode != 0
                    && usable(id)
                    && (covered.contains(id)
                        || old
                            .path(id)
                            .is_none_or(|there| there == path || !inode_at(&there, stat.inode)))
            })
            .or_else(|| old.id_at(path).filter(|id| usable(id)))
            .unwrap_or_else(&mut *new_id);
        let previous = old.get(&id);
        let content_hash = if stat.is_folder {
            None
        } else {
            match previous {
                Some(p)
                    if p.size == stat.size
                        && p.mtime == stat.mtime
                        && p.inode == stat.inode
                        && p.hash.is_some() =>
                {
                    p.hash.clone()
                }
                _ => match hash(path) {
                    Ok(Some(h)) => Some(h),
                    Ok(None) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read; keeping what was known");
                        if let Some(p) = previous.filter(|p| old.id_at(path) == Some(p.id)) {
                            claimed.insert(p.id);
                            path_ids.insert(path, p.id);
                            fresh.push(p.clone());
                        }
                        continue;
                    }
                },
            }
        };
        claimed.insert(id);
        path_ids.insert(path, id);
        fresh.push(Node {
            id,
            parent,
            name: name.to_owned(),
            is_folder: stat.is_folder,
            size: stat.size,
            hash: content_hash,
            version: 0,
            mtime: if stat.is_folder { 0 } else { stat.mtime },
            inode: stat.inode,
            chunks: Vec::new(),
            chunker: None,
            chunk_workspace: None,
        });
    }

    // Gone: the covered nodes not found again, and (when only some paths
    // were looked at) what was beneath them unless found elsewhere.
    let unclaimed = covered.iter().filter(|id| !claimed.contains(id));
    let gone: Vec<ItemId> = match scope {
        Scope::Everything => unclaimed.copied().collect(),
        Scope::Paths(_) => unclaimed
            .flat_map(|id| old.subtree(*id))
            .filter(|id| !claimed.contains(id))
            .collect(),
    };
    let fresh: Vec<Node> = fresh
        .into_iter()
        .filter(|node| old.get(&node.id) != Some(node))
        .collect();
    let changed = !fresh.is_empty() || gone.iter().any(|id| local.contains(id));
    for id in gone {
        local.remove(&id);
    }
    for node in fresh {
        local.insert(node);
    }
    changed
}

fn keep_subtree(old: &Tree, id: ItemId, claimed: &mut BTreeSet<ItemId>, fresh: &mut Vec<Node>) {
    if let Some(node) = old.get(&id)
        && claimed.insert(id)
    {
        fresh.push(node.clone());
        for child in old.children(Some(id)) {
            keep_subtree(old, child, claimed, fresh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{Entry, Stat};
    use uuid::Uuid;

    fn file(path: &str, inode: u64, mtime: i64) -> Entry {
        Entry {
            path: path.into(),
            stat: Stat {
                is_folder: false,
                size: 3,
                mtime,
                inode,
            },
        }
    }

    fn dir(path: &str, inode: u64) -> Entry {
        Entry {
            path: path.into(),
            stat: Stat {
                is_folder: true,
                size: 0,
                mtime: 0,
                inode,
            },
        }
    }

    fn run(tree: &mut Tree, entries: Vec<Entry>, counter: &mut u128) -> usize {
        let mut hashed = 0;
        let scan = Scan {
            entries,
            ..Scan::default()
        };
        reconcile(
            tree,
            &scan,
            Scope::Everything,
            &mut |p| {
                hashed += 1;
                Ok(Some(format!("h:{p}")))
            },
            &mut || {
                *counter += 1;
                Uuid::from_u128(*counter)
            },
            &mut |_, _| false,
        );
        hashed
    }

    /// A scan of only `paths` (walked beneath when `true`), listing
    /// `entries` there; `on_disk` is what the rest of the disk holds, by
    /// path and inode. Returns how many files were hashed.
    fn run_paths(
        tree: &mut Tree,
        paths: &[(&str, bool)],
        entries: Vec<Entry>,
        on_disk: &[(&str, u64)],
    ) -> usize {
        let mut hashed = 0;
        let scan = Scan {
            entries,
            ..Scan::default()
        };
        let paths: Vec<(String, bool)> = paths.iter().map(|(p, w)| (p.to_string(), *w)).collect();
        reconcile(
            tree,
            &scan,
            Scope::Paths(&paths),
            &mut |p| {
                hashed += 1;
                Ok(Some(format!("h:{p}")))
            },
            &mut || Uuid::now_v7(),
            &mut |path, inode| on_disk.contains(&(path, inode)),
        );
        hashed
    }

    fn paths(tree: &Tree) -> Vec<String> {
        let mut paths: Vec<String> = tree.ids().filter_map(|id| tree.path(id)).collect();
        paths.sort();
        paths
    }

    #[test]
    fn a_scan_of_some_paths_changes_only_what_it_saw() {
        let mut tree = Tree::new();
        let mut counter = 0;
        run(
            &mut tree,
            vec![
                dir("d", 1),
                file("d/a", 2, 10),
                file("d/b", 3, 10),
                dir("e", 4),
                file("e/c", 5, 10),
                file("top", 6, 10),
            ],
            &mut counter,
        );
        let (d, a, b) = (
            tree.id_at("d").unwrap(),
            tree.id_at("d/a").unwrap(),
            tree.id_at("d/b").unwrap(),
        );

        // `d` renamed to `x` (same inode, not walked: its files are as
        // they were), `top` edited, `e/c` deleted: each path named once.
        let hashed = run_paths(
            &mut tree,
            &[("d", false), ("x", false), ("top", false), ("e/c", false)],
            vec![dir("x", 1), file("top", 6, 11)],
            &[],
        );
        assert_eq!(hashed, 1, "only the edited file is read");
        assert_eq!(paths(&tree), ["e", "top", "x", "x/a", "x/b"]);
        assert_eq!((tree.id_at("x"), tree.id_at("x/a")), (Some(d), Some(a)));

        // A folder moved in from elsewhere (a new inode) is walked; one
        // deleted goes with everything in it but what moved out of it: a
        // file keeps its id when its inode left the path it had.
        let hashed = run_paths(
            &mut tree,
            &[("new", true), ("x", false), ("moved", false)],
            vec![dir("new", 9), file("new/n", 10, 10), file("moved", 3, 10)],
            &[],
        );
        assert_eq!(hashed, 1, "only the new file is read");
        assert_eq!(paths(&tree), ["e", "moved", "new", "new/n", "top"]);
        assert_eq!(tree.id_at("moved"), Some(b));
        let top = tree.id_at("top").unwrap();
        run_paths(
            &mut tree,
            &[("link", false)],
            vec![file("link", 6, 11)],
            &[("top", 6)],
        );
        assert_ne!(
            tree.id_at("link"),
            Some(top),
            "a hard link does not move `top`"
        );
        assert_eq!(tree.id_at("top"), Some(top));
    }

    #[test]
    fn renames_keep_ids_and_unchanged_files_are_not_rehashed() {
        let mut tree = Tree::new();
        let mut counter = 0;
        let hashed = run(
            &mut tree,
            vec![dir("d", 1), file("d/a", 2, 10), file("b", 3, 10)],
            &mut counter,
        );
        assert_eq!(hashed, 2);
        let a = tree.child(tree.child(None, "d"), "a").unwrap();
        // Move d/a to e/z (same inode), replace b by a new file (new inode).
        let hashed = run(
            &mut tree,
            vec![
                dir("d", 1),
                dir("e", 4),
                file("e/z", 2, 10),
                file("b", 5, 11),
            ],
            &mut counter,
        );
        assert_eq!(hashed, 1, "only the replaced file is hashed again");
        assert_eq!(tree.path(&a).unwrap(), "e/z");
        assert_eq!(tree.len(), 4);
    }

    #[test]
    fn unreadable_folders_keep_their_contents() {
        let mut tree = Tree::new();
        let mut counter = 0;
        run(
            &mut tree,
            vec![dir("d", 1), file("d/a", 2, 10)],
            &mut counter,
        );
        let scan = Scan {
            entries: vec![],
            unreadable: vec!["d".into()],
            skipped: vec![],
        };
        let changed = reconcile(
            &mut tree,
            &scan,
            Scope::Everything,
            &mut |_| Ok(None),
            &mut || Uuid::nil(),
            &mut |_, _| false,
        );
        assert!(!changed);
        assert_eq!(tree.len(), 2);
    }
}
