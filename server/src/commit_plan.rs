//! The rules of a commit, as a pure function from a snapshot of the workspace
//! and a batch of items to per-item outcomes and the versions to write.
//!
//! First commit wins: an item is accepted only if the version it was based on
//! is still the latest; otherwise the device gets the current version back and
//! keeps its own bytes as a conflicted copy. Re-sending something the server
//! already has is not a conflict (`Unchanged`), so a device that crashed after
//! committing never turns its own work into a conflict.
//!
//! Items are planned in request order, each seeing the effects of those before
//! it (a new folder, then its children). Folder deletions come last, the last
//! listed first, and only succeed for folders left empty: deleting a folder
//! never deletes an item the deleting device did not know about.

use std::collections::{HashMap, HashSet};

use nimbus_protocol::names::{
    MAX_CONTENT_HASH_LEN, is_valid_chunk_id, is_valid_content_hash, validate_name,
};
use nimbus_protocol::rpc::{
    CommitItem, Content, ItemOutcome, ItemState, MAX_CHUNKS_PER_VERSION, RefusalCode, VersionStatus,
};
use uuid::Uuid;

/// Longest chunker description a version may record.
const MAX_CHUNKER_LEN: usize = 200;

/// What a store loads before planning. `items` holds every item the batch can
/// touch: the batch's own items, their current and new parents with all their
/// ancestors, the live children of folders the batch deletes, and the live
/// items that hold the batch's target names. Chunk lists may be left empty:
/// planning compares content by size and hash.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub workspace_id: Uuid,
    pub items: HashMap<Uuid, SnapshotItem>,
}

#[derive(Debug, Clone)]
pub struct SnapshotItem {
    pub workspace_id: Uuid,
    pub state: ItemState,
}

/// One version to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionWrite {
    pub item_id: Uuid,
    pub version: u64,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub is_folder: bool,
    pub deleted: bool,
    pub status: VersionStatus,
    pub modified_at: i64,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// One outcome per request item, in request order.
    pub outcomes: Vec<ItemOutcome>,
    /// Versions to store, in an order in which every intermediate state is
    /// valid. The store charges the quota for the chunks they add.
    pub writes: Vec<VersionWrite>,
}

pub fn plan_commit(snapshot: Snapshot, batch: &[CommitItem]) -> Plan {
    let mut planner = Planner::new(snapshot);
    let (folder_deletes, others): (Vec<usize>, Vec<usize>) =
        (0..batch.len()).partition(|&i| batch[i].deleted && batch[i].is_folder);
    let mut outcomes: Vec<Option<ItemOutcome>> = vec![None; batch.len()];
    for index in others.into_iter().chain(folder_deletes.into_iter().rev()) {
        outcomes[index] = Some(planner.plan_item(&batch[index]));
    }
    Plan {
        outcomes: outcomes
            .into_iter()
            .map(|o| o.expect("every item is planned"))
            .collect(),
        writes: planner.writes,
    }
}

struct Planner {
    workspace_id: Uuid,
    items: HashMap<Uuid, SnapshotItem>,
    /// (parent, name) of every live item in `items`.
    live_names: HashMap<(Option<Uuid>, String), Uuid>,
    /// Number of live children per folder (exact for folders the batch deletes).
    live_children: HashMap<Uuid, usize>,
    seen: HashSet<Uuid>,
    refused: HashSet<Uuid>,
    writes: Vec<VersionWrite>,
}

fn refused(code: RefusalCode, message: impl Into<String>) -> ItemOutcome {
    ItemOutcome::Refused {
        code,
        message: message.into(),
    }
}

impl Planner {
    fn new(snapshot: Snapshot) -> Self {
        let mut live_names = HashMap::new();
        let mut live_children: HashMap<Uuid, usize> = HashMap::new();
        for item in snapshot.items.values() {
            if item.workspace_id == snapshot.workspace_id && !item.state.deleted {
                live_names.insert(
                    (item.state.parent_id, item.state.name.clone()),
                    item.state.id,
                );
                if let Some(parent) = item.state.parent_id {
                    *live_children.entry(parent).or_default() += 1;
                }
            }
        }
        Self {
            workspace_id: snapshot.workspace_id,
            items: snapshot.items,
            live_names,
            live_children,
            seen: HashSet::new(),
            refused: HashSet::new(),
            writes: Vec::new(),
        }
    }

    fn plan_item(&mut self, item: &CommitItem) -> ItemOutcome {
        if !self.seen.insert(item.id) {
            return refused(
                RefusalCode::InvalidItem,
                "the item is listed twice in this commit",
            );
        }
        let outcome = self.decide(item);
        if matches!(outcome, ItemOutcome::Refused { .. }) {
            self.refused.insert(item.id);
        }
        outcome
    }

    fn decide(&mut self, item: &CommitItem) -> ItemOutcome {
        if let Err(message) = validate(item) {
            return refused(RefusalCode::InvalidItem, message);
        }
        let current = match self.items.get(&item.id) {
            Some(stored) if stored.workspace_id != self.workspace_id => {
                return refused(
                    RefusalCode::IdInUse,
                    "this item id belongs to another workspace; choose a new random id",
                );
            }
            Some(stored) => Some(stored.state.clone()),
            None => None,
        };
        let Some(current) = current else {
            if item.base_version != 0 {
                return ItemOutcome::Conflict { current: None };
            }
            if item.deleted {
                return refused(RefusalCode::InvalidItem, "a new item cannot be deleted");
            }
            if let Err(outcome) = self.check_placement(item) {
                return outcome;
            }
            return self.write(item, None, VersionStatus::New);
        };
        if item.base_version != current.version {
            return if same_state(&current, item) {
                ItemOutcome::Unchanged {
                    version: current.version,
                }
            } else {
                ItemOutcome::Conflict {
                    current: Some(Box::new(current)),
                }
            };
        }
        if item.is_folder != current.is_folder {
            return refused(
                RefusalCode::KindChange,
                "a file cannot become a folder or the reverse; delete it and create a new item",
            );
        }
        let status = if item.deleted {
            if current.deleted {
                return ItemOutcome::Unchanged {
                    version: current.version,
                };
            }
            if item.is_folder && self.live_children.get(&item.id).copied().unwrap_or(0) > 0 {
                return refused(
                    RefusalCode::FolderNotEmpty,
                    "the folder still holds items; delete them in the same commit first",
                );
            }
            VersionStatus::Deleted
        } else if current.deleted || content_differs(&current, item) {
            VersionStatus::Changed
        } else if current.parent_id != item.parent_id {
            VersionStatus::Moved
        } else if current.name != item.name {
            VersionStatus::Renamed
        } else {
            return ItemOutcome::Unchanged {
                version: current.version,
            };
        };
        if !item.deleted
            && let Err(outcome) = self.check_placement(item)
        {
            return outcome;
        }
        self.write(item, Some(&current), status)
    }

    /// The parent must be a live folder of this workspace, not the item or one
    /// of its descendants, and the name must be free in it.
    fn check_placement(&self, item: &CommitItem) -> Result<(), ItemOutcome> {
        if let Some(parent_id) = item.parent_id {
            if self.refused.contains(&parent_id) {
                return Err(refused(
                    RefusalCode::ParentRefused,
                    "the parent folder was refused earlier in this commit",
                ));
            }
            let parent = self
                .items
                .get(&parent_id)
                .filter(|p| p.workspace_id == self.workspace_id && !p.state.deleted);
            let Some(parent) = parent else {
                return Err(refused(
                    RefusalCode::ParentMissing,
                    "the parent folder does not exist in this workspace or was deleted",
                ));
            };
            if !parent.state.is_folder {
                return Err(refused(
                    RefusalCode::ParentNotFolder,
                    "the parent is a file",
                ));
            }
            if item.is_folder && self.is_ancestor_or_self(item.id, parent_id) {
                return Err(refused(
                    RefusalCode::MoveIntoItself,
                    "a folder cannot be moved into itself or one of its subfolders",
                ));
            }
        }
        match self.live_names.get(&(item.parent_id, item.name.clone())) {
            Some(holder) if *holder != item.id => Err(refused(
                RefusalCode::NameTaken,
                format!("\"{}\" already exists in this folder", item.name),
            )),
            _ => Ok(()),
        }
    }

    fn is_ancestor_or_self(&self, candidate: Uuid, start: Uuid) -> bool {
        let mut cursor = Some(start);
        // A tree deeper than the map is large would be a cycle in stored data.
        for _ in 0..=self.items.len() {
            match cursor {
                Some(id) if id == candidate => return true,
                Some(id) => cursor = self.items.get(&id).and_then(|i| i.state.parent_id),
                None => return false,
            }
        }
        true
    }

    fn write(
        &mut self,
        item: &CommitItem,
        current: Option<&ItemState>,
        status: VersionStatus,
    ) -> ItemOutcome {
        let version = current.map_or(1, |c| c.version + 1);
        // A deleted version keeps its place (a tombstone) and holds no content.
        let (parent_id, name, content) = match (status, current) {
            (VersionStatus::Deleted, Some(c)) => (c.parent_id, c.name.clone(), Content::default()),
            _ => (item.parent_id, item.name.clone(), item.content.clone()),
        };

        if let Some(c) = current.filter(|c| !c.deleted) {
            self.live_names.remove(&(c.parent_id, c.name.clone()));
            if let Some(parent) = c.parent_id
                && let Some(count) = self.live_children.get_mut(&parent)
            {
                *count = count.saturating_sub(1);
            }
        }
        if !item.deleted {
            self.live_names.insert((parent_id, name.clone()), item.id);
            if let Some(parent) = parent_id {
                *self.live_children.entry(parent).or_default() += 1;
            }
        }

        let state = ItemState {
            id: item.id,
            parent_id,
            name: name.clone(),
            is_folder: item.is_folder,
            deleted: item.deleted,
            version,
            status,
            revision: 0,
            device_id: Uuid::nil(),
            modified_at: item.modified_at,
            committed_at: 0,
            moved_to: None,
            chunk_workspace: None,
            content: Content {
                chunks: Vec::new(),
                ..content.clone()
            },
        };
        self.items.insert(
            item.id,
            SnapshotItem {
                workspace_id: self.workspace_id,
                state,
            },
        );
        self.writes.push(VersionWrite {
            item_id: item.id,
            version,
            parent_id,
            name,
            is_folder: item.is_folder,
            deleted: item.deleted,
            status,
            modified_at: item.modified_at,
            content,
        });
        ItemOutcome::Committed { version, status }
    }
}

fn content_differs(current: &ItemState, item: &CommitItem) -> bool {
    !item.is_folder
        && (current.content.size != item.content.size
            || current.content.content_hash != item.content.content_hash)
}

/// Whether the request describes the state the server already has.
fn same_state(current: &ItemState, item: &CommitItem) -> bool {
    if current.deleted || item.deleted {
        return current.deleted && item.deleted;
    }
    current.is_folder == item.is_folder
        && current.parent_id == item.parent_id
        && current.name == item.name
        && !content_differs(current, item)
}

fn validate(item: &CommitItem) -> Result<(), String> {
    if item.id.is_nil() {
        return Err("the item id must not be the nil UUID".into());
    }
    validate_name(&item.name).map_err(|e| e.to_string())?;
    if item.parent_id == Some(item.id) {
        return Err("an item cannot be its own parent".into());
    }
    if item.deleted {
        return Ok(());
    }
    let content = &item.content;
    if item.is_folder {
        if content.size != 0 || !content.chunks.is_empty() || content.content_hash.is_some() {
            return Err("a folder has no content".into());
        }
        return Ok(());
    }
    match &content.content_hash {
        Some(hash) if is_valid_content_hash(hash) => {}
        _ => {
            return Err(format!(
                "a file needs a content hash \"algorithm:hex\" of at most {MAX_CONTENT_HASH_LEN} characters"
            ));
        }
    }
    if content.chunks.len() > MAX_CHUNKS_PER_VERSION {
        return Err(format!(
            "a version has at most {MAX_CHUNKS_PER_VERSION} chunks"
        ));
    }
    if let Some(bad) = content.chunks.iter().find(|c| !is_valid_chunk_id(&c.id)) {
        return Err(format!(
            "chunk id {:?} is not 64 lowercase hex digits",
            bad.id
        ));
    }
    let total: u64 = content.chunks.iter().map(|c| u64::from(c.size)).sum();
    if total != content.size {
        return Err(format!(
            "the chunks hold {total} bytes but the file size is {}",
            content.size
        ));
    }
    if content.size > i64::MAX as u64 {
        return Err("the file is too large".into());
    }
    if content
        .chunker
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CHUNKER_LEN)
    {
        return Err(format!(
            "the chunker description is over {MAX_CHUNKER_LEN} bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use nimbus_protocol::rpc::ChunkRef;

    use super::*;

    const WS: Uuid = Uuid::from_u128(0xAA);

    fn folder(id: u128, parent: Option<u128>, name: &str) -> CommitItem {
        CommitItem {
            id: Uuid::from_u128(id),
            base_version: 0,
            parent_id: parent.map(Uuid::from_u128),
            name: name.into(),
            is_folder: true,
            deleted: false,
            modified_at: 0,
            content: Content::default(),
        }
    }

    fn file(id: u128, parent: Option<u128>, name: &str, size: u32) -> CommitItem {
        CommitItem {
            is_folder: false,
            content: Content {
                size: u64::from(size),
                content_hash: Some(format!("blake3:{:064x}", size)),
                chunks: vec![ChunkRef {
                    id: format!("{:064x}", size),
                    size,
                }],
                chunker: None,
            },
            ..folder(id, parent, name)
        }
    }

    fn stored(item: &CommitItem, version: u64) -> (Uuid, SnapshotItem) {
        let state = ItemState {
            id: item.id,
            parent_id: item.parent_id,
            name: item.name.clone(),
            is_folder: item.is_folder,
            deleted: item.deleted,
            version,
            status: VersionStatus::New,
            revision: 1,
            device_id: Uuid::nil(),
            modified_at: 0,
            committed_at: 0,
            moved_to: None,
            chunk_workspace: None,
            content: item.content.clone(),
        };
        (
            item.id,
            SnapshotItem {
                workspace_id: WS,
                state,
            },
        )
    }

    fn snapshot(items: &[(&CommitItem, u64)]) -> Snapshot {
        Snapshot {
            workspace_id: WS,
            items: items.iter().map(|(i, v)| stored(i, *v)).collect(),
        }
    }

    fn refusal(outcome: &ItemOutcome) -> Option<RefusalCode> {
        match outcome {
            ItemOutcome::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn a_folder_and_its_children_in_one_batch() {
        let batch = [
            folder(1, None, "docs"),
            file(2, Some(1), "a.txt", 10),
            folder(3, Some(1), "sub"),
        ];
        let plan = plan_commit(snapshot(&[]), &batch);
        assert!(plan.outcomes.iter().all(|o| matches!(
            o,
            ItemOutcome::Committed {
                version: 1,
                status: VersionStatus::New
            }
        )));
        assert_eq!(plan.writes.len(), 3);
    }

    #[test]
    fn first_commit_wins_and_the_loser_sees_the_winner() {
        let original = file(2, None, "a.txt", 10);
        let mut edit = file(2, None, "a.txt", 20);
        edit.base_version = 1;
        let snap = snapshot(&[(&original, 2)]);
        let plan = plan_commit(snap, &[edit]);
        match &plan.outcomes[0] {
            ItemOutcome::Conflict {
                current: Some(state),
            } => assert_eq!(state.version, 2),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(plan.writes.is_empty());
    }

    #[test]
    fn resending_what_the_server_has_is_not_a_conflict() {
        let original = file(2, None, "a.txt", 10);
        let plan = plan_commit(snapshot(&[(&original, 1)]), std::slice::from_ref(&original));
        assert_eq!(plan.outcomes[0], ItemOutcome::Unchanged { version: 1 });
    }

    #[test]
    fn status_is_derived_from_the_difference() {
        let dir = folder(1, None, "dir");
        let original = file(2, None, "a.txt", 10);
        let snap = snapshot(&[(&dir, 1), (&original, 1)]);
        let cases = [
            (file(2, None, "b.txt", 10), VersionStatus::Renamed),
            (file(2, Some(1), "a.txt", 10), VersionStatus::Moved),
            (file(2, None, "a.txt", 11), VersionStatus::Changed),
            (
                CommitItem {
                    deleted: true,
                    ..file(2, None, "a.txt", 10)
                },
                VersionStatus::Deleted,
            ),
        ];
        for (mut item, expected) in cases {
            item.base_version = 1;
            let plan = plan_commit(snap.clone(), &[item]);
            assert_eq!(
                plan.outcomes[0],
                ItemOutcome::Committed {
                    version: 2,
                    status: expected
                }
            );
        }
    }

    #[test]
    fn names_are_unique_among_live_items() {
        let existing = file(2, None, "a.txt", 10);
        let plan = plan_commit(snapshot(&[(&existing, 1)]), &[file(3, None, "a.txt", 5)]);
        assert_eq!(refusal(&plan.outcomes[0]), Some(RefusalCode::NameTaken));

        let mut deleted = existing.clone();
        deleted.deleted = true;
        let plan = plan_commit(snapshot(&[(&deleted, 2)]), &[file(3, None, "a.txt", 5)]);
        assert!(matches!(plan.outcomes[0], ItemOutcome::Committed { .. }));
    }

    #[test]
    fn a_name_freed_earlier_in_the_batch_can_be_reused() {
        let existing = file(2, None, "a.txt", 10);
        let mut rename = file(2, None, "old-a.txt", 10);
        rename.base_version = 1;
        let plan = plan_commit(
            snapshot(&[(&existing, 1)]),
            &[rename, file(3, None, "a.txt", 5)],
        );
        assert!(
            plan.outcomes
                .iter()
                .all(|o| matches!(o, ItemOutcome::Committed { .. }))
        );
    }

    #[test]
    fn folders_cannot_move_into_themselves() {
        let a = folder(1, None, "a");
        let b = folder(2, Some(1), "b");
        let mut move_a = folder(1, Some(2), "a");
        move_a.base_version = 1;
        let plan = plan_commit(snapshot(&[(&a, 1), (&b, 1)]), &[move_a]);
        assert_eq!(
            refusal(&plan.outcomes[0]),
            Some(RefusalCode::MoveIntoItself)
        );
    }

    #[test]
    fn a_folder_is_deleted_only_with_everything_in_it() {
        let dir = folder(1, None, "dir");
        let inner = file(2, Some(1), "a.txt", 10);
        let snap = snapshot(&[(&dir, 1), (&inner, 1)]);
        let mut delete_dir = dir.clone();
        delete_dir.deleted = true;
        delete_dir.base_version = 1;
        let plan = plan_commit(snap.clone(), std::slice::from_ref(&delete_dir));
        assert_eq!(
            refusal(&plan.outcomes[0]),
            Some(RefusalCode::FolderNotEmpty)
        );

        // Listed parent-first, as a tree walk would: still applied children-first.
        let mut delete_inner = inner.clone();
        delete_inner.deleted = true;
        delete_inner.base_version = 1;
        let plan = plan_commit(snap, &[delete_dir, delete_inner]);
        assert!(plan.outcomes.iter().all(|o| matches!(
            o,
            ItemOutcome::Committed {
                status: VersionStatus::Deleted,
                ..
            }
        )));
        assert_eq!(plan.writes[0].item_id, inner.id);
    }

    #[test]
    fn children_of_refused_folders_are_refused() {
        let taken = folder(9, None, "docs");
        let plan = plan_commit(
            snapshot(&[(&taken, 1)]),
            &[folder(1, None, "docs"), file(2, Some(1), "a", 1)],
        );
        assert_eq!(refusal(&plan.outcomes[0]), Some(RefusalCode::NameTaken));
        assert_eq!(refusal(&plan.outcomes[1]), Some(RefusalCode::ParentRefused));
    }

    #[test]
    fn malformed_items_are_refused() {
        let mut bad_size = file(1, None, "a", 10);
        bad_size.content.size = 11;
        let mut bad_chunk = file(2, None, "b", 10);
        bad_chunk.content.chunks[0].id = "../../etc/passwd".into();
        let mut no_hash = file(3, None, "c", 10);
        no_hash.content.content_hash = None;
        let plan = plan_commit(
            snapshot(&[]),
            &[
                bad_size,
                bad_chunk,
                no_hash,
                folder(4, None, ".."),
                folder(5, Some(5), "x"),
            ],
        );
        assert!(
            plan.outcomes
                .iter()
                .all(|o| refusal(o) == Some(RefusalCode::InvalidItem))
        );
        assert!(plan.writes.is_empty());
    }
}
