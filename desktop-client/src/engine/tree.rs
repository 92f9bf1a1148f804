//! One of the three trees: nodes keyed by stable item id, with an index of
//! children by name. Iteration is ordered (BTreeMap) so that planning is
//! deterministic, which the seeded simulation relies on.

use std::collections::{BTreeMap, BTreeSet};

use nimbus_protocol::rpc::{ChunkPlace, ChunkRef, Content, ItemState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stable item id: the server's item id, chosen by the device that created it.
pub type ItemId = Uuid;

/// One file or folder as one of the trees sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: ItemId,
    /// `None`: directly in the sync root.
    pub parent: Option<ItemId>,
    pub name: String,
    pub is_folder: bool,
    /// File size in bytes (0 for folders).
    pub size: u64,
    /// Content hash `algorithm:hex` of a file (as the server records it).
    pub hash: Option<String>,
    /// Server version (remote and synced trees; 0 in the local tree).
    pub version: u64,
    /// Local tree: modification time in nanoseconds; remote: `modified_at` in ms.
    pub mtime: i64,
    /// Local tree: inode (file id); 0 elsewhere.
    pub inode: u64,
    /// Remote and synced trees: the chunk list of the file's version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkRef>,
    /// Remote and synced trees: how the chunks were cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunker: Option<String>,
    /// Remote and synced trees: where the chunks are and whose keys cut,
    /// named and hashed them, when that is another workspace (a converted
    /// folder's versions until they are re-keyed); `None`: this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_workspace: Option<ChunkPlace>,
}

impl Node {
    /// Same kind and, for files, the same bytes.
    pub fn same_content(&self, other: &Node) -> bool {
        self.is_folder == other.is_folder
            && (self.is_folder || (self.size == other.size && self.hash == other.hash))
    }

    /// Same parent and name.
    pub fn same_place(&self, other: &Node) -> bool {
        self.parent == other.parent && self.name == other.name
    }

    /// The remote node of a live server item.
    pub fn from_item(item: &ItemState) -> Node {
        Node {
            id: item.id,
            parent: item.parent_id,
            name: item.name.clone(),
            is_folder: item.is_folder,
            size: item.content.size,
            hash: item.content.content_hash.clone(),
            version: item.version,
            mtime: item.modified_at,
            inode: 0,
            chunks: item.content.chunks.clone(),
            chunker: item.content.chunker.clone(),
            chunk_workspace: item.chunk_workspace.clone(),
        }
    }

    /// The content this node describes, as the protocol carries it.
    pub fn content(&self) -> Content {
        if self.is_folder {
            return Content::default();
        }
        Content {
            size: self.size,
            content_hash: self.hash.clone(),
            chunks: self.chunks.clone(),
            chunker: self.chunker.clone(),
        }
    }
}

/// A tree of nodes keyed by id. Nodes whose parent is missing are allowed
/// transiently (a delta applies in pieces); [`Tree::path`] reports them.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: BTreeMap<ItemId, Node>,
    children: BTreeMap<Option<ItemId>, BTreeMap<String, ItemId>>,
    dirty: BTreeSet<ItemId>,
    /// Nodes by inode (the local tree's; other trees have none), so that a
    /// scan of a few paths finds a moved item without looking at all.
    inodes: BTreeSet<(u64, ItemId)>,
    /// Ids changed since [`Trees::settle`] last looked (kept apart from
    /// `dirty`, which saving empties).
    changed: BTreeSet<ItemId>,
}

impl PartialEq for Tree {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, id: &ItemId) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub fn contains(&self, id: &ItemId) -> bool {
        self.nodes.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &ItemId> {
        self.nodes.keys()
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Inserts or replaces a node.
    pub fn insert(&mut self, node: Node) {
        if let Some(old) = self.nodes.get(&node.id) {
            if old == &node {
                return;
            }
            let (parent, name, inode) = (old.parent, old.name.clone(), old.inode);
            self.unlink(parent, &name, node.id);
            self.inodes.remove(&(inode, node.id));
        }
        if node.inode != 0 {
            self.inodes.insert((node.inode, node.id));
        }
        self.children
            .entry(node.parent)
            .or_default()
            .insert(node.name.clone(), node.id);
        self.dirty.insert(node.id);
        self.changed.insert(node.id);
        self.nodes.insert(node.id, node);
    }

    pub fn remove(&mut self, id: &ItemId) -> Option<Node> {
        let node = self.nodes.remove(id)?;
        self.unlink(node.parent, &node.name, node.id);
        self.inodes.remove(&(node.inode, node.id));
        self.dirty.insert(node.id);
        self.changed.insert(node.id);
        Some(node)
    }

    fn unlink(&mut self, parent: Option<ItemId>, name: &str, id: ItemId) {
        if let Some(names) = self.children.get_mut(&parent) {
            if names.get(name) == Some(&id) {
                names.remove(name);
            }
            if names.is_empty() {
                self.children.remove(&parent);
            }
        }
    }

    /// The child called `name` of `parent`.
    pub fn child(&self, parent: Option<ItemId>, name: &str) -> Option<ItemId> {
        self.children.get(&parent)?.get(name).copied()
    }

    /// Ids of the children of `parent`, by name.
    pub fn children(&self, parent: Option<ItemId>) -> Vec<ItemId> {
        self.children
            .get(&parent)
            .map(|names| names.values().copied().collect())
            .unwrap_or_default()
    }

    /// The item at `path` (`a/b/c`), found name by name from the root.
    pub fn id_at(&self, path: &str) -> Option<ItemId> {
        let mut id = None;
        for name in path.split('/') {
            id = Some(self.child(id, name)?);
        }
        id
    }

    /// The one node with `inode` (`None` when none or several have it:
    /// hard links are not told apart).
    pub fn by_inode(&self, inode: u64) -> Option<ItemId> {
        let mut ids = self
            .inodes
            .range((inode, ItemId::nil())..=(inode, ItemId::max()))
            .map(|(_, id)| *id);
        let first = ids.next()?;
        ids.next().is_none().then_some(first)
    }

    /// `id` and everything beneath it.
    pub fn subtree(&self, id: ItemId) -> Vec<ItemId> {
        let mut ids = vec![id];
        let mut next = 0;
        while next < ids.len() {
            ids.extend(self.children(Some(ids[next])));
            next += 1;
        }
        ids
    }

    /// The path of `id` from the root (`a/b/c`), or `None` if an ancestor is
    /// missing or the parents form a cycle.
    pub fn path(&self, id: &ItemId) -> Option<String> {
        let mut parts = Vec::new();
        let mut cursor = Some(*id);
        while let Some(current) = cursor {
            if parts.len() > self.nodes.len() {
                return None;
            }
            let node = self.nodes.get(&current)?;
            parts.push(node.name.as_str());
            cursor = node.parent;
        }
        parts.reverse();
        Some(parts.join("/"))
    }

    /// The path a node would have at (`parent`, `name`).
    pub fn path_at(&self, parent: Option<ItemId>, name: &str) -> Option<String> {
        match parent {
            None => Some(name.to_owned()),
            Some(p) => self.path(&p).map(|base| format!("{base}/{name}")),
        }
    }

    /// Whether `ancestor` is `id` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: ItemId, id: ItemId) -> bool {
        let mut cursor = Some(id);
        let mut steps = 0;
        while let Some(current) = cursor {
            if current == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.nodes.len() + 1 {
                return true;
            }
            cursor = self.nodes.get(&current).and_then(|n| n.parent);
        }
        false
    }

    /// Depth from the root (1 for top-level items).
    pub fn depth(&self, id: &ItemId) -> usize {
        let mut depth = 0;
        let mut cursor = Some(*id);
        while let Some(current) = cursor {
            depth += 1;
            if depth > self.nodes.len() + 1 {
                break;
            }
            cursor = self.nodes.get(&current).and_then(|n| n.parent);
        }
        depth
    }

    /// Gives node `from` the id `to`, re-parenting its children.
    pub fn rekey(&mut self, from: ItemId, to: ItemId) {
        let Some(mut node) = self.remove(&from) else {
            return;
        };
        for child in self.children(Some(from)) {
            if let Some(mut c) = self.nodes.get(&child).cloned() {
                c.parent = Some(to);
                self.insert(c);
            }
        }
        node.id = to;
        self.insert(node);
    }

    /// Ids changed since the last call (for incremental persistence).
    pub fn take_dirty(&mut self) -> BTreeSet<ItemId> {
        std::mem::take(&mut self.dirty)
    }

    /// Marks `ids` as changed again (their save failed).
    pub fn restore_dirty(&mut self, ids: BTreeSet<ItemId>) {
        self.dirty.extend(ids);
    }

    /// Forgets what changed (after loading from storage).
    pub fn clear_dirty(&mut self) {
        self.dirty.clear();
    }
}

/// The three trees of a workspace.
#[derive(Debug, Clone, Default)]
pub struct Trees {
    /// What the server says (live items only).
    pub remote: Tree,
    /// What was last observed on disk.
    pub local: Tree,
    /// The last state both sides agreed on: the merge base.
    pub synced: Tree,
    /// Items found out of sync when [`Trees::settle`] last looked.
    unsettled: BTreeSet<ItemId>,
}

impl PartialEq for Trees {
    fn eq(&self, other: &Self) -> bool {
        self.remote == other.remote && self.local == other.local && self.synced == other.synced
    }
}

impl Trees {
    /// The trees of a workspace, none of their items settled yet: the
    /// planner looks at every item once.
    pub fn new(remote: Tree, local: Tree, synced: Tree) -> Self {
        Self {
            remote,
            local,
            synced,
            unsettled: BTreeSet::new(),
        }
    }

    /// Whether the three trees agree on `id`: the disk holds the synced
    /// bytes at the synced place, and the synced state is the server's. Such
    /// an item needs nothing (on a case-sensitive disk, see the planner)
    /// until one of its nodes changes.
    pub fn in_sync(&self, id: &ItemId) -> bool {
        match (self.local.get(id), self.synced.get(id), self.remote.get(id)) {
            (Some(l), Some(s), Some(r)) => l.same_content(s) && l.same_place(s) && s == r,
            (None, None, None) => true,
            _ => false,
        }
    }

    /// The items that may need work: those out of sync when last settled
    /// and those changed since. A superset of the items out of sync, found
    /// without looking at the others, so that planning after a small change
    /// costs what the change costs, not what the tree holds.
    pub fn unsettled(&self) -> BTreeSet<ItemId> {
        let mut ids = self.unsettled.clone();
        for tree in [&self.remote, &self.local, &self.synced] {
            ids.extend(tree.changed.iter().copied());
        }
        ids
    }

    /// Looks again at the items changed since the last call, keeping
    /// [`Trees::unsettled`] small.
    pub fn settle(&mut self) {
        let changed: BTreeSet<ItemId> = [&mut self.remote, &mut self.local, &mut self.synced]
            .into_iter()
            .flat_map(|tree| std::mem::take(&mut tree.changed))
            .collect();
        for id in changed {
            if self.in_sync(&id) {
                self.unsettled.remove(&id);
            } else {
                self.unsettled.insert(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u128, parent: Option<u128>, name: &str) -> Node {
        Node {
            id: Uuid::from_u128(id),
            parent: parent.map(Uuid::from_u128),
            name: name.into(),
            is_folder: true,
            size: 0,
            hash: None,
            version: 0,
            mtime: 0,
            inode: 0,
            chunks: Vec::new(),
            chunker: None,
            chunk_workspace: None,
        }
    }

    #[test]
    fn only_items_out_of_sync_or_changed_are_unsettled() {
        let mut trees = Trees::default();
        for tree in [&mut trees.remote, &mut trees.local, &mut trees.synced] {
            tree.insert(node(1, None, "a"));
            tree.insert(node(2, Some(1), "b"));
        }
        trees.remote.insert(node(3, None, "new on the server"));
        let ids =
            |set: BTreeSet<ItemId>| set.into_iter().map(|id| id.as_u128()).collect::<Vec<_>>();
        assert_eq!(
            ids(trees.unsettled()),
            [1, 2, 3],
            "before settling: all changed"
        );
        trees.settle();
        assert_eq!(ids(trees.unsettled()), [3]);
        trees.local.insert(node(2, None, "b moved"));
        assert_eq!(
            ids(trees.unsettled()),
            [2, 3],
            "a change counts before settling"
        );
        trees.settle();
        assert_eq!(ids(trees.unsettled()), [2, 3]);
        trees.local.insert(node(2, Some(1), "b"));
        trees.local.insert(node(3, None, "new on the server"));
        trees.synced.insert(node(3, None, "new on the server"));
        trees.settle();
        assert_eq!(ids(trees.unsettled()), [] as [u128; 0]);
        assert_eq!(trees.local.id_at("a/b"), Some(Uuid::from_u128(2)));
    }

    #[test]
    fn paths_children_and_rekeying() {
        let mut tree = Tree::new();
        tree.insert(node(1, None, "a"));
        tree.insert(node(2, Some(1), "b"));
        tree.insert(node(3, Some(2), "c"));
        assert_eq!(tree.path(&Uuid::from_u128(3)).unwrap(), "a/b/c");
        assert_eq!(
            tree.child(Some(Uuid::from_u128(1)), "b"),
            Some(Uuid::from_u128(2))
        );
        assert!(tree.is_ancestor_or_self(Uuid::from_u128(1), Uuid::from_u128(3)));
        assert!(!tree.is_ancestor_or_self(Uuid::from_u128(3), Uuid::from_u128(1)));
        tree.rekey(Uuid::from_u128(2), Uuid::from_u128(9));
        assert_eq!(tree.path(&Uuid::from_u128(3)).unwrap(), "a/b/c");
        assert_eq!(
            tree.get(&Uuid::from_u128(3)).unwrap().parent,
            Some(Uuid::from_u128(9))
        );
        let mut moved = tree.get(&Uuid::from_u128(9)).unwrap().clone();
        moved.name = "x".into();
        tree.insert(moved);
        assert_eq!(tree.child(Some(Uuid::from_u128(1)), "b"), None);
        assert_eq!(tree.path(&Uuid::from_u128(3)).unwrap(), "a/x/c");
        tree.remove(&Uuid::from_u128(1));
        assert_eq!(tree.path(&Uuid::from_u128(3)), None);
    }
}
