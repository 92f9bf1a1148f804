//! A folder the server turned into a workspace of its own (`convertFolder`,
//! seen as a deletion with `moved_to`): a move of identity, not a delete.
//!
//! The engine of the folder's old workspace takes the folder's nodes out of
//! its trees and leaves the folder on disk alone; a [`Handoff`] carries the
//! local and synced nodes (same ids, versions, hashes) to the state of the
//! mount that syncs the new workspace at the same place. That engine starts
//! from them at cursor 0, finds the same ids and versions on the server and
//! marks them synced: nothing is downloaded or uploaded. What changed on
//! disk and was not sent yet is still a local change there, and goes up into
//! the new workspace.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tree::{ItemId, Node, Tree, Trees};

/// The nodes of a converted folder, on their way to the new workspace's mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// The workspace the folder became.
    pub workspace_id: Uuid,
    /// The folder's place on disk, relative to the old workspace's root;
    /// ignored by that workspace's engine from the hand-off on.
    pub path: String,
    /// The folder's contents as last observed on disk, its children at the top.
    pub local: Vec<Node>,
    /// The folder's contents as last agreed with the server.
    pub synced: Vec<Node>,
}

impl Handoff {
    /// Whether `path` (relative to the old root) is the folder or inside it.
    pub fn covers(&self, path: &str) -> bool {
        path == self.path
            || path
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The trees a new engine of the mount starts from (the remote one empty:
    /// it is fetched from cursor 0).
    pub fn trees(&self) -> Trees {
        let tree = |nodes: &[Node]| {
            let mut tree = Tree::new();
            for node in nodes {
                tree.insert(node.clone());
            }
            tree
        };
        Trees::new(Tree::new(), tree(&self.local), tree(&self.synced))
    }
}

/// Takes the folder `folder` and everything beneath it out of `trees` and
/// returns the hand-off of its contents to `workspace_id`; `None` when this
/// device never had the folder on disk nor in sync (nothing to hand over).
pub fn take(trees: &mut Trees, folder: ItemId, workspace_id: Uuid) -> Option<Handoff> {
    // Where the files are: the local place first (a local move not yet
    // sent), else the synced one.
    let path = trees
        .local
        .path(&folder)
        .or_else(|| trees.synced.path(&folder));
    let local = take_subtree(&mut trees.local, folder);
    let synced = take_subtree(&mut trees.synced, folder);
    // The server moved the contents with the folder; they are not this
    // workspace's anymore.
    take_subtree(&mut trees.remote, folder);
    Some(Handoff {
        workspace_id,
        path: path?,
        local,
        synced,
    })
}

/// Removes `folder`'s subtree from `tree`; returns the nodes beneath it,
/// the folder's children re-parented to the top.
fn take_subtree(tree: &mut Tree, folder: ItemId) -> Vec<Node> {
    if !tree.contains(&folder) {
        return Vec::new();
    }
    let ids = tree.subtree(folder);
    let mut nodes = Vec::new();
    for id in ids {
        let Some(mut node) = tree.remove(&id) else {
            continue;
        };
        if id == folder {
            continue;
        }
        if node.parent == Some(folder) {
            node.parent = None;
        }
        nodes.push(node);
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u128, parent: Option<u128>, name: &str, hash: Option<&str>) -> Node {
        Node {
            id: Uuid::from_u128(id),
            parent: parent.map(Uuid::from_u128),
            name: name.into(),
            is_folder: hash.is_none(),
            size: hash.map_or(0, |_| 3),
            hash: hash.map(str::to_owned),
            version: 4,
            mtime: 0,
            inode: 0,
            chunks: Vec::new(),
            chunker: None,
            chunk_workspace: None,
        }
    }

    #[test]
    fn the_folders_contents_move_to_the_top_of_the_handoff_and_leave_the_trees() {
        let mut trees = Trees::default();
        let shared = [
            node(1, None, "docs", None),
            node(2, Some(1), "Photos", None),
            node(3, Some(2), "a.jpg", Some("blake3:aa")),
            node(4, Some(2), "june", None),
            node(5, Some(4), "b.jpg", Some("blake3:bb")),
            node(6, Some(1), "notes.txt", Some("blake3:cc")),
        ];
        for tree in [&mut trees.remote, &mut trees.local, &mut trees.synced] {
            for node in &shared {
                tree.insert(node.clone());
            }
        }
        // Edited here and not sent yet: handed over as an edit.
        trees
            .local
            .insert(node(3, Some(2), "a.jpg", Some("blake3:edited")));
        // New here: handed over as new.
        trees
            .local
            .insert(node(7, Some(4), "new.jpg", Some("blake3:dd")));

        let photos = Uuid::from_u128(2);
        let workspace = Uuid::from_u128(99);
        let handoff = take(&mut trees, photos, workspace).expect("on disk");
        assert_eq!(handoff.path, "docs/Photos");
        assert_eq!(handoff.workspace_id, workspace);
        for tree in [&trees.remote, &trees.local, &trees.synced] {
            let left: Vec<u128> = tree.ids().map(|id| id.as_u128()).collect();
            assert_eq!(left, [1, 6]);
        }
        let moved = handoff.trees();
        assert_eq!(moved.local.len(), 4);
        assert_eq!(moved.synced.len(), 3);
        assert_eq!(moved.local.id_at("june/new.jpg"), Some(Uuid::from_u128(7)));
        assert_eq!(moved.synced.id_at("a.jpg"), Some(Uuid::from_u128(3)));
        let a = Uuid::from_u128(3);
        assert_eq!(
            moved.local.get(&a).unwrap().hash.as_deref(),
            Some("blake3:edited")
        );
        assert_eq!(moved.synced.get(&a).unwrap().version, 4);
        assert!(moved.remote.is_empty());
        assert!(handoff.covers("docs/Photos") && handoff.covers("docs/Photos/a.jpg"));
        assert!(!handoff.covers("docs/Photos 2") && !handoff.covers("docs"));

        // A folder this device never had: nothing to hand over.
        trees.remote.insert(node(8, None, "elsewhere", None));
        assert_eq!(take(&mut trees, Uuid::from_u128(8), workspace), None);
        assert!(!trees.remote.contains(&Uuid::from_u128(8)));
    }
}
