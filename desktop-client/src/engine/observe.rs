//! Folding a scan of the disk into the local tree, keeping item ids stable:
//! an entry keeps the id of the node with the same inode (a rename or move is
//! one update, not a delete and a create), else of the node at the same path
//! (editors that save by replacing the file), else it gets a new id.
//! Contents are hashed only when size, mtime or inode changed.

use std::collections::{BTreeMap, BTreeSet};

use super::tree::{ItemId, Node, Tree};
use crate::fs::{FsError, Scan};

/// Hashes the file at a path: `Ok(None)` if it vanished meanwhile.
pub type HashFn<'a> = dyn FnMut(&str) -> Result<Option<String>, FsError> + 'a;

/// Replaces the local tree with what `scan` saw; returns whether anything
/// changed. Subtrees under unreadable folders, and files that could not be
/// read, keep their previous state: failing to read is never a deletion.
pub fn reconcile(
    local: &mut Tree,
    scan: &Scan,
    hash: &mut HashFn<'_>,
    new_id: &mut dyn FnMut() -> ItemId,
) -> bool {
    let old = local.clone();
    let old_paths: BTreeMap<String, ItemId> = old
        .ids()
        .filter_map(|id| old.path(id).map(|p| (p, *id)))
        .collect();
    let mut by_inode: BTreeMap<u64, Option<ItemId>> = BTreeMap::new();
    for node in old.nodes().filter(|n| n.inode != 0) {
        by_inode
            .entry(node.inode)
            .and_modify(|slot| *slot = None)
            .or_insert(Some(node.id));
    }
    let mut claimed: BTreeSet<ItemId> = BTreeSet::new();
    let mut path_ids: BTreeMap<&str, ItemId> = BTreeMap::new();
    let mut fresh: Vec<Node> = Vec::new();

    // Keep whatever was known under folders that could not be read.
    for unreadable in &scan.unreadable {
        if let Some(id) = old_paths.get(unreadable.as_str()) {
            keep_subtree(&old, *id, &mut claimed, &mut fresh);
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
                None => continue, // parent skipped
            },
        };
        let stat = entry.stat;
        let usable = |id: &ItemId| {
            !claimed.contains(id) && old.get(id).is_some_and(|n| n.is_folder == stat.is_folder)
        };
        let id = by_inode
            .get(&stat.inode)
            .copied()
            .flatten()
            .filter(|id| stat.inode != 0 && usable(id))
            .or_else(|| old_paths.get(path).copied().filter(|id| usable(id)))
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
                        if let Some(p) = previous.filter(|p| old_paths.get(path) == Some(&p.id)) {
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
        });
    }

    let mut changed = false;
    for id in old.ids() {
        if !claimed.contains(id) {
            local.remove(id);
            changed = true;
        }
    }
    for node in fresh {
        if old.get(&node.id) != Some(&node) {
            changed = true;
            local.insert(node);
        }
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
            &mut |p| {
                hashed += 1;
                Ok(Some(format!("h:{p}")))
            },
            &mut || {
                *counter += 1;
                Uuid::from_u128(*counter)
            },
        );
        hashed
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
        let changed = reconcile(&mut tree, &scan, &mut |_| Ok(None), &mut || Uuid::nil());
        assert!(!changed);
        assert_eq!(tree.len(), 2);
    }
}
