//! The server's commit rules (`nimbus_server::commit_plan::plan_commit`) on
//! random valid workspaces and random batches.
//!
//! Checked against the module's promises: one outcome per item; a version is
//! written only on top of the version the device based it on (first commit
//! wins), as the next version, once per item; `Unchanged` only for what the
//! server already has, so nothing a device sent is dropped silently; a
//! conflict returns the server's current state, from which the device makes
//! its conflicted copy; the status follows from the difference; items of
//! other workspaces are never written; the writes, applied in order, keep
//! the tree valid at every step (live names unique per folder, parents live
//! folders, no cycles, no folder deleted under a live item); and the quota
//! delta is the change of the live bytes.
#![no_main]

use std::collections::{BTreeMap, HashMap};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nimbus_protocol::names::validate_name;
use nimbus_protocol::rpc::{
    ChunkRef, CommitItem, Content, ItemOutcome, ItemState, RefusalCode, VersionStatus,
};
use nimbus_server::commit_plan::{Snapshot, SnapshotItem, VersionWrite, plan_commit};
use uuid::Uuid;

const WORKSPACE: Uuid = Uuid::from_u128(0xAAAA);
const OTHER_WORKSPACE: Uuid = Uuid::from_u128(0xBBBB);
const NAMES: [&str; 8] = ["a", "b", "A", "a.txt", "docs", "x y", "\u{e9}", "e\u{301}"];
/// Ids a batch may name beyond the stored items: new items.
const NEW_IDS: u128 = 6;

#[derive(Debug, Arbitrary)]
enum Name<'a> {
    Known(u8),
    Raw(&'a str),
}

impl Name<'_> {
    fn text(&self) -> String {
        match self {
            Name::Known(pick) => NAMES[usize::from(*pick) % NAMES.len()].to_owned(),
            Name::Raw(raw) => (*raw).to_owned(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Stored {
    parent: Option<u8>,
    name: u8,
    is_folder: bool,
    deleted: bool,
    version: u8,
    size: u8,
    other_workspace: bool,
}

#[derive(Debug, Arbitrary)]
enum Base {
    Current,
    Previous,
    Next,
    Zero,
    Other(u64),
}

#[derive(Debug, Arbitrary)]
enum Breakage {
    None,
    NoHash,
    BadHash,
    BadChunkId,
    SizeMismatch,
    FolderWithContent,
    NilId,
    OwnParent,
}

#[derive(Debug, Arbitrary)]
struct Sent<'a> {
    id: u8,
    base: Base,
    parent: Option<u8>,
    name: Name<'a>,
    /// `None`: the kind the item has (a file if new).
    is_folder: Option<bool>,
    deleted: bool,
    size: u8,
    breakage: Breakage,
    modified_at: i64,
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    stored: Vec<Stored>,
    batch: Vec<Sent<'a>>,
}

fn stored_id(index: usize) -> Uuid {
    Uuid::from_u128(index as u128 + 1)
}

fn file_content(size: u8) -> Content {
    Content {
        size: u64::from(size),
        content_hash: Some(format!("blake3:{size:064x}")),
        chunks: vec![ChunkRef {
            id: format!("{size:064x}"),
            size: u32::from(size),
        }],
        chunker: None,
    }
}

/// A valid workspace: parents are earlier folders, live items sit in live
/// folders under names unique among their live siblings.
fn snapshot(stored: &[Stored]) -> Snapshot {
    let mut items: HashMap<Uuid, SnapshotItem> = HashMap::new();
    let mut order: Vec<Uuid> = Vec::new();
    for (index, s) in stored.iter().enumerate() {
        let id = stored_id(index);
        let workspace_id = if s.other_workspace {
            OTHER_WORKSPACE
        } else {
            WORKSPACE
        };
        let folders: Vec<Uuid> = order
            .iter()
            .filter(|id| {
                let item = &items[*id];
                item.workspace_id == workspace_id
                    && item.state.is_folder
                    && (s.deleted || !item.state.deleted)
            })
            .copied()
            .collect();
        let parent_id = s
            .parent
            .filter(|_| !folders.is_empty())
            .map(|pick| folders[usize::from(pick) % folders.len()]);
        let name = NAMES[usize::from(s.name) % NAMES.len()].to_owned();
        let taken = items.values().any(|other| {
            other.workspace_id == workspace_id
                && !other.state.deleted
                && other.state.parent_id == parent_id
                && other.state.name == name
        });
        let content = if s.is_folder {
            Content::default()
        } else {
            file_content(s.size)
        };
        let state = ItemState {
            id,
            parent_id,
            name,
            is_folder: s.is_folder,
            deleted: s.deleted || taken,
            version: u64::from(s.version).max(1),
            status: VersionStatus::New,
            revision: 1,
            device_id: Uuid::nil(),
            modified_at: 0,
            committed_at: 0,
            moved_to: None,
            chunk_workspace: None,
            content,
        };
        items.insert(
            id,
            SnapshotItem {
                workspace_id,
                state,
            },
        );
        order.push(id);
    }
    Snapshot {
        workspace_id: WORKSPACE,
        items,
    }
}

fn commit_item(sent: &Sent<'_>, stored: &Snapshot, ids: &[Uuid]) -> CommitItem {
    let id = ids[usize::from(sent.id) % ids.len()];
    let current = stored.items.get(&id).map(|item| &item.state);
    let version = current.map_or(0, |c| c.version);
    let base_version = match sent.base {
        Base::Current => version,
        Base::Previous => version.saturating_sub(1),
        Base::Next => version + 1,
        Base::Zero => 0,
        Base::Other(other) => other,
    };
    let is_folder = sent
        .is_folder
        .unwrap_or_else(|| current.is_some_and(|c| c.is_folder));
    let mut item = CommitItem {
        id,
        base_version,
        parent_id: sent.parent.map(|pick| ids[usize::from(pick) % ids.len()]),
        name: sent.name.text(),
        is_folder,
        deleted: sent.deleted,
        modified_at: sent.modified_at,
        content: if is_folder {
            Content::default()
        } else {
            file_content(sent.size)
        },
    };
    match sent.breakage {
        Breakage::None => {}
        Breakage::NoHash => item.content.content_hash = None,
        Breakage::BadHash => item.content.content_hash = Some("blake3".into()),
        Breakage::BadChunkId => {
            item.content.chunks = vec![ChunkRef {
                id: "../x".into(),
                size: 0,
            }]
        }
        Breakage::SizeMismatch => item.content.size += 1,
        Breakage::FolderWithContent => item.content = file_content(sent.size.max(1)),
        Breakage::NilId => item.id = Uuid::nil(),
        Breakage::OwnParent => item.parent_id = Some(item.id),
    }
    item
}

/// The stored state matches what the device sent (the server's notion of
/// "already there": kind, place and, for files, size and hash).
fn same_state(current: &ItemState, item: &CommitItem) -> bool {
    if current.deleted || item.deleted {
        return current.deleted && item.deleted;
    }
    current.is_folder == item.is_folder
        && current.parent_id == item.parent_id
        && current.name == item.name
        && (item.is_folder
            || (current.content.size == item.content.size
                && current.content.content_hash == item.content.content_hash))
}

/// The workspace as a map of live and deleted items, for replaying writes.
struct Model(BTreeMap<Uuid, (Option<Uuid>, String, bool, bool, u64)>);

impl Model {
    fn new(snapshot: &Snapshot) -> Self {
        Self(
            snapshot
                .items
                .values()
                .filter(|item| item.workspace_id == snapshot.workspace_id)
                .map(|item| {
                    let s = &item.state;
                    let size = if s.is_folder || s.deleted {
                        0
                    } else {
                        s.content.size
                    };
                    (
                        s.id,
                        (s.parent_id, s.name.clone(), s.is_folder, s.deleted, size),
                    )
                })
                .collect(),
        )
    }

    fn apply(&mut self, write: &VersionWrite) {
        let size = if write.is_folder || write.deleted {
            0
        } else {
            write.content.size
        };
        self.0.insert(
            write.item_id,
            (
                write.parent_id,
                write.name.clone(),
                write.is_folder,
                write.deleted,
                size,
            ),
        );
    }

    /// Live names unique per folder, live items in live folders, no cycles.
    fn check(&self, after: &str) {
        let mut names = std::collections::HashSet::new();
        for (id, (parent, name, _, deleted, _)) in &self.0 {
            if *deleted {
                continue;
            }
            assert!(
                names.insert((*parent, name.clone())),
                "{after}: two live items named {name:?} in {parent:?}"
            );
            if let Some(parent) = parent {
                let folder = self.0.get(parent);
                assert!(
                    folder.is_some_and(|(_, _, is_folder, deleted, _)| *is_folder && !deleted),
                    "{after}: live item {id} is in {parent}, not a live folder of the workspace"
                );
            }
            let mut cursor = *parent;
            for _ in 0..=self.0.len() {
                match cursor {
                    Some(p) => {
                        assert_ne!(p, *id, "{after}: {id} is inside itself");
                        cursor = self.0.get(&p).and_then(|entry| entry.0);
                    }
                    None => break,
                }
            }
            assert!(cursor.is_none(), "{after}: a cycle above {id}");
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let snapshot = snapshot(&input.stored);
    let mut ids: Vec<Uuid> = (0..input.stored.len()).map(stored_id).collect();
    ids.extend((0..NEW_IDS).map(|k| Uuid::from_u128(0x1000 + k)));
    let batch: Vec<CommitItem> = input
        .batch
        .iter()
        .map(|sent| commit_item(sent, &snapshot, &ids))
        .collect();

    let mut model = Model::new(&snapshot);
    model.check("the generated snapshot");
    let plan = plan_commit(snapshot.clone(), &batch);
    assert_eq!(plan.outcomes.len(), batch.len());

    // The documented order: folder deletions after the other items, the
    // last listed first. Of an item listed twice, the first planned counts.
    let (folder_deletes, others): (Vec<usize>, Vec<usize>) =
        (0..batch.len()).partition(|&i| batch[i].deleted && batch[i].is_folder);
    let mut first_listing = HashMap::new();
    for index in others.into_iter().chain(folder_deletes.into_iter().rev()) {
        first_listing.entry(batch[index].id).or_insert(index);
    }
    let mut committed = 0;
    for (index, (item, outcome)) in batch.iter().zip(&plan.outcomes).enumerate() {
        let stored = snapshot.items.get(&item.id);
        let current = stored.map(|s| &s.state);
        let writes: Vec<&VersionWrite> = plan
            .writes
            .iter()
            .filter(|w| w.item_id == item.id)
            .collect();
        let repeated = first_listing[&item.id] != index;
        if repeated || validate_name(&item.name).is_err() || item.id.is_nil() {
            assert!(
                matches!(
                    outcome,
                    ItemOutcome::Refused {
                        code: RefusalCode::InvalidItem,
                        ..
                    }
                ),
                "item {index} {item:?}: {outcome:?}"
            );
        }
        match outcome {
            ItemOutcome::Committed { version, status } => {
                committed += 1;
                assert!(!repeated);
                assert!(stored.is_none_or(|s| s.workspace_id == WORKSPACE));
                // First commit wins: only on top of the version it was based on.
                assert_eq!(item.base_version, current.map_or(0, |c| c.version));
                assert_eq!(*version, current.map_or(1, |c| c.version + 1));
                assert_eq!(writes.len(), 1, "{item:?}");
                let write = writes[0];
                assert_eq!((write.version, write.status), (*version, *status));
                assert_eq!(write.deleted, item.deleted);
                assert_eq!(write.is_folder, item.is_folder);
                let expected_status = match current {
                    None => VersionStatus::New,
                    Some(_) if item.deleted => VersionStatus::Deleted,
                    Some(c)
                        if c.deleted
                            || (!item.is_folder
                                && (c.content.size != item.content.size
                                    || c.content.content_hash != item.content.content_hash)) =>
                    {
                        VersionStatus::Changed
                    }
                    Some(c) if c.parent_id != item.parent_id => VersionStatus::Moved,
                    Some(c) if c.name != item.name => VersionStatus::Renamed,
                    Some(c) => panic!("committed without a change: {c:?} {item:?}"),
                };
                assert_eq!(*status, expected_status, "{current:?} {item:?}");
                if item.deleted {
                    let c = current.expect("only stored items are deleted");
                    assert!(!c.deleted);
                    assert_eq!((write.parent_id, &write.name), (c.parent_id, &c.name));
                    assert_eq!(write.content, Content::default());
                } else {
                    assert_eq!(
                        (write.parent_id, &write.name, &write.content),
                        (item.parent_id, &item.name, &item.content)
                    );
                }
            }
            ItemOutcome::Unchanged { version } => {
                let c = current.expect("unchanged is about a stored item");
                assert_eq!(*version, c.version);
                assert!(same_state(c, item), "{c:?} is not {item:?}");
            }
            ItemOutcome::Conflict { current: reported } => {
                assert_ne!(item.base_version, current.map_or(0, |c| c.version));
                assert_eq!(reported.as_deref(), current, "{item:?}");
                assert!(current.is_none_or(|c| !same_state(c, item)));
            }
            ItemOutcome::Refused { .. } => {}
        }
        if !matches!(outcome, ItemOutcome::Committed { .. }) && !repeated {
            assert!(writes.is_empty(), "{item:?}: {outcome:?} but written");
        }
    }
    assert_eq!(plan.writes.len(), committed);

    for write in &plan.writes {
        model.apply(write);
        model.check(&format!("after writing {write:?}"));
    }
});
