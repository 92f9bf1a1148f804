//! The item tree of a workspace, rebuilt from `getChanges` and kept up to
//! date by delta. The metadata servers' `getItem` and `listFolder` answer for
//! one item or one level of live items; the REST API also lists deleted
//! children (`include_deleted`), deletes whole subtrees in one commit, checks
//! names before it stores content and ancestry before a move, so the proxy
//! keeps a tree per workspace, as devices do. Each request still asks for the
//! delta since the cached revision with the caller's own token, so the cache
//! never authorizes anything and never serves stale state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nimbus_protocol::RpcClient;
use nimbus_protocol::rpc::{DeviceToken, GetChangesArgs, ItemState, Revision};
use uuid::Uuid;

use crate::error::rest::RestError;

/// Every item of a workspace (deleted ones too) at one revision.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub revision: Revision,
    pub items: HashMap<Uuid, ItemState>,
}

impl Tree {
    pub fn get(&self, id: Uuid) -> Option<&ItemState> {
        self.items.get(&id)
    }

    /// The children of `parent` (`None`: the top level), folders first, then
    /// by name.
    pub fn children(&self, parent: Option<Uuid>, include_deleted: bool) -> Vec<&ItemState> {
        let mut children: Vec<&ItemState> = self
            .items
            .values()
            .filter(|item| item.parent_id == parent && (include_deleted || !item.deleted))
            .collect();
        children.sort_by(|a, b| {
            b.is_folder
                .cmp(&a.is_folder)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        });
        children
    }

    /// The live items under `folder`, parents before their children.
    pub fn live_descendants(&self, folder: Uuid) -> Vec<&ItemState> {
        let mut out = Vec::new();
        let mut stack = vec![folder];
        while let Some(parent) = stack.pop() {
            for child in self.children(Some(parent), false) {
                if child.is_folder {
                    stack.push(child.id);
                }
                out.push(child);
            }
        }
        out
    }

    /// Whether `ancestor` is `item` or one of its ancestors.
    pub fn is_within(&self, item: Uuid, ancestor: Uuid) -> bool {
        let mut current = Some(item);
        let mut steps = 0;
        while let Some(id) = current {
            if id == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.items.len() {
                return false;
            }
            current = self.items.get(&id).and_then(|item| item.parent_id);
        }
        false
    }

    fn apply(&mut self, items: Vec<ItemState>) {
        let mut converted = Vec::new();
        for item in items {
            if item.moved_to.is_some() {
                converted.push(item.id);
            }
            self.items.insert(item.id, item);
        }
        // A folder turned into a workspace took its contents along, which
        // the delta does not show: only the folder, deleted with `moved_to`.
        let gone: Vec<Uuid> = self
            .items
            .keys()
            .copied()
            .filter(|id| {
                !converted.contains(id)
                    && converted.iter().any(|folder| self.is_within(*id, *folder))
            })
            .collect();
        for id in gone {
            self.items.remove(&id);
        }
    }
}

/// Above this many cached workspaces, the cache starts over.
const MAX_CACHED_WORKSPACES: usize = 1024;

/// The latest tree of each workspace the proxy has seen.
#[derive(Default)]
pub struct TreeCache {
    trees: Mutex<HashMap<Uuid, Arc<Tree>>>,
}

impl TreeCache {
    /// The tree of `workspace_id` as of now, read with `token`.
    pub async fn load(
        &self,
        rpc: &RpcClient,
        token: &DeviceToken,
        workspace_id: Uuid,
    ) -> Result<Arc<Tree>, RestError> {
        let mut cached = self
            .trees
            .lock()
            .expect("tree cache poisoned")
            .get(&workspace_id)
            .cloned();
        let mut since = cached.as_ref().map_or(0, |tree| tree.revision);
        let mut changed = Vec::new();
        let mut page = None;
        let revision = loop {
            let changes = rpc
                .get_changes(
                    token,
                    GetChangesArgs {
                        workspace_id,
                        since,
                        page,
                        limit: None,
                    },
                )
                .await
                .map_err(RestError::from_rpc)?;
            if since > 0 && changes.purged_revision > since {
                // Items were removed for good since the cached tree, which
                // no delta shows: read the whole tree again.
                (since, page, cached) = (0, None, None);
                changed.clear();
                continue;
            }
            changed.extend(changes.items);
            match changes.next_page {
                Some(next) => page = Some(next),
                None => break changes.revision,
            }
        };
        if let Some(tree) = cached
            .as_ref()
            .filter(|t| changed.is_empty() && t.revision == revision)
        {
            return Ok(Arc::clone(tree));
        }
        let mut tree = cached.map(|t| (*t).clone()).unwrap_or_default();
        tree.apply(changed);
        tree.revision = revision;
        let tree = Arc::new(tree);
        let mut trees = self.trees.lock().expect("tree cache poisoned");
        if trees.len() >= MAX_CACHED_WORKSPACES {
            trees.clear();
        }
        let newer = trees
            .get(&workspace_id)
            .is_none_or(|existing| existing.revision < tree.revision);
        if newer {
            trees.insert(workspace_id, Arc::clone(&tree));
        }
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use nimbus_protocol::rpc::{Content, VersionStatus};

    use super::*;

    fn item(
        id: u128,
        parent: Option<u128>,
        name: &str,
        is_folder: bool,
        deleted: bool,
    ) -> ItemState {
        ItemState {
            id: Uuid::from_u128(id),
            parent_id: parent.map(Uuid::from_u128),
            name: name.into(),
            is_folder,
            deleted,
            version: 1,
            status: VersionStatus::New,
            revision: 1,
            device_id: Uuid::nil(),
            modified_at: 0,
            committed_at: 0,
            moved_to: None,
            chunk_workspace: None,
            content: Content::default(),
        }
    }

    #[test]
    fn children_descendants_and_ancestry() {
        let mut tree = Tree::default();
        tree.apply(vec![
            item(1, None, "docs", true, false),
            item(2, Some(1), "b.txt", false, false),
            item(3, Some(1), "a", true, false),
            item(4, Some(3), "deep.txt", false, false),
            item(5, Some(1), "gone.txt", false, true),
            item(6, None, "top.txt", false, false),
        ]);
        let names =
            |items: Vec<&ItemState>| items.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(tree.children(None, false)), ["docs", "top.txt"]);
        assert_eq!(
            names(tree.children(Some(Uuid::from_u128(1)), false)),
            ["a", "b.txt"]
        );
        assert_eq!(
            names(tree.children(Some(Uuid::from_u128(1)), true)),
            ["a", "b.txt", "gone.txt"]
        );
        let descendants = names(tree.live_descendants(Uuid::from_u128(1)));
        assert_eq!(descendants.len(), 3);
        let pos = |n: &str| descendants.iter().position(|d| d == n).unwrap();
        assert!(pos("a") < pos("deep.txt"));
        assert!(tree.is_within(Uuid::from_u128(4), Uuid::from_u128(1)));
        assert!(!tree.is_within(Uuid::from_u128(6), Uuid::from_u128(1)));
    }
}
