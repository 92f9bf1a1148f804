//! An in-memory metadata server and object store. Commits are planned by
//! the real server's rules (`nimbus_server::commit_plan`) and answered once
//! per request id, like the real one.
//!
//! It holds several workspaces, each with an owner and members with roles.
//! As on the real server (`require_role`), a caller who is not a member is
//! refused every read and write, and a viewer every commit, before a
//! re-sent commit is looked up; the client sees such a refusal as the
//! server being unavailable (`transfer::rpc_error`). Shares are proposed by
//! the owner and take effect when the addressee accepts.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nimbus_client::remote::{Remote, RemoteError};
use nimbus_protocol::rpc::{
    ChunkPlace, ChunkRef, CommitItem, CommitReply, Content, EncryptionMode, ItemOutcome,
    ItemResult, ItemState, Revision, Role, WorkspaceInfo,
};
use nimbus_server::commit_plan::{Snapshot, SnapshotItem, plan_commit};
use uuid::Uuid;

/// The first user's default workspace.
pub const WORKSPACE: Uuid = Uuid::from_u128(0xAAAA);

/// A user's id.
pub fn user_id(user: usize) -> Uuid {
    Uuid::from_u128(0xF000 + user as u128)
}

#[derive(Default)]
struct Workspace {
    name: String,
    owner: usize,
    is_default: bool,
    /// Every member's role, the owner's included.
    members: BTreeMap<usize, Role>,
    items: BTreeMap<Uuid, ItemState>,
    revision: Revision,
}

/// An offer not yet accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    pub workspace: Uuid,
    pub to: usize,
    pub role: Role,
}

#[derive(Default)]
struct State {
    workspaces: BTreeMap<Uuid, Workspace>,
    proposals: Vec<Proposal>,
    answers: HashMap<Uuid, CommitReply>,
    objects: BTreeMap<String, Vec<u8>>,
    uploads: u64,
}

impl State {
    fn role(&self, workspace: Uuid, user: usize) -> Option<Role> {
        self.workspaces.get(&workspace)?.members.get(&user).copied()
    }
}

#[derive(Clone)]
pub struct SimServer(Arc<Mutex<State>>);

impl SimServer {
    /// A server whose first user owns the workspace [`WORKSPACE`].
    pub fn new() -> Self {
        let server = Self(Arc::default());
        server.create_workspace(WORKSPACE, 0, "default", true);
        server
    }

    /// A workspace owned by `owner`.
    pub fn create_workspace(&self, id: Uuid, owner: usize, name: &str, is_default: bool) {
        let workspace = Workspace {
            name: name.to_owned(),
            owner,
            is_default,
            members: [(owner, Role::Owner)].into(),
            ..Workspace::default()
        };
        self.0.lock().unwrap().workspaces.insert(id, workspace);
    }

    /// The remote of `user`'s device number `device` for `workspace`.
    /// `read_only`: its engine is a viewer's, which must never commit.
    pub fn remote(
        &self,
        device: usize,
        user: usize,
        workspace: Uuid,
        read_only: bool,
    ) -> SimRemote {
        SimRemote {
            server: self.clone(),
            device: Uuid::from_u128(device as u128 + 1),
            user,
            workspace,
            read_only,
            lose_reply: Arc::default(),
        }
    }

    /// The first user's default workspace's current revision.
    pub fn revision(&self) -> Revision {
        self.0.lock().unwrap().workspaces[&WORKSPACE].revision
    }

    /// `getWorkspaces` for `user`: the workspaces they are a member of.
    pub fn workspaces_of(&self, user: usize) -> Vec<WorkspaceInfo> {
        let state = self.0.lock().unwrap();
        state
            .workspaces
            .iter()
            .filter_map(|(id, w)| {
                let role = *w.members.get(&user)?;
                Some(WorkspaceInfo {
                    workspace_id: *id,
                    name: w.name.clone(),
                    owner_id: user_id(w.owner),
                    role,
                    encryption: EncryptionMode::None,
                    revision: w.revision,
                    container: id.to_string(),
                    storage_account: format!("AUTH_{}", w.owner),
                    mount_parent: None,
                    is_default: w.is_default,
                    key_check: None,
                    converted_from: None,
                })
            })
            .collect()
    }

    /// The owner of `workspace`.
    pub fn owner(&self, workspace: Uuid) -> usize {
        self.0.lock().unwrap().workspaces[&workspace].owner
    }

    /// Members other than the owner, with their roles.
    pub fn members(&self, workspace: Uuid) -> Vec<(usize, Role)> {
        let state = self.0.lock().unwrap();
        let w = &state.workspaces[&workspace];
        w.members
            .iter()
            .filter(|(user, _)| **user != w.owner)
            .map(|(user, role)| (*user, *role))
            .collect()
    }

    pub fn proposals(&self) -> Vec<Proposal> {
        self.0.lock().unwrap().proposals.clone()
    }

    /// The owner offers `workspace` to `to`: refused for a member, a
    /// default workspace or a second pending offer.
    pub fn propose(&self, by: usize, proposal: Proposal) -> bool {
        let mut state = self.0.lock().unwrap();
        let w = &state.workspaces[&proposal.workspace];
        let refused = w.owner != by
            || w.is_default
            || proposal.role == Role::Owner
            || w.members.contains_key(&proposal.to)
            || state
                .proposals
                .iter()
                .any(|p| p.workspace == proposal.workspace && p.to == proposal.to);
        if !refused {
            state.proposals.push(proposal);
        }
        !refused
    }

    /// The addressee accepts the `index`th pending offer.
    pub fn accept(&self, index: usize) -> Proposal {
        let mut state = self.0.lock().unwrap();
        let proposal = state.proposals.remove(index);
        state
            .workspaces
            .get_mut(&proposal.workspace)
            .unwrap()
            .members
            .insert(proposal.to, proposal.role);
        proposal
    }

    /// The owner changes a member's role.
    pub fn set_role(&self, workspace: Uuid, user: usize, role: Role) {
        let mut state = self.0.lock().unwrap();
        let w = state.workspaces.get_mut(&workspace).unwrap();
        assert!(user != w.owner && role != Role::Owner && w.members.contains_key(&user));
        w.members.insert(user, role);
    }

    /// The owner removes a member, or the member leaves: the same end.
    pub fn end_membership(&self, workspace: Uuid, user: usize) {
        let mut state = self.0.lock().unwrap();
        let w = state.workspaces.get_mut(&workspace).unwrap();
        assert!(user != w.owner, "the owner cannot leave");
        w.members.remove(&user);
    }

    /// Objects stored so far.
    pub fn uploads(&self) -> u64 {
        self.0.lock().unwrap().uploads
    }

    /// Live paths of the first user's default workspace with their bytes
    /// (`None` for folders).
    pub fn live_files(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        self.live_files_of(WORKSPACE)
    }

    /// Live paths of `workspace` with their bytes (`None` for folders).
    pub fn live_files_of(&self, workspace: Uuid) -> BTreeMap<String, Option<Vec<u8>>> {
        let state = self.0.lock().unwrap();
        let items = &state.workspaces[&workspace].items;
        let path = |id: Uuid| -> String {
            let mut parts = Vec::new();
            let mut cursor = Some(id);
            while let Some(c) = cursor {
                let item = &items[&c];
                parts.push(item.name.clone());
                cursor = item.parent_id;
            }
            parts.reverse();
            parts.join("/")
        };
        items
            .values()
            .filter(|i| !i.deleted)
            .map(|i| {
                let bytes = (!i.is_folder).then(|| {
                    i.content
                        .chunks
                        .iter()
                        .flat_map(|c| state.objects[&c.id].clone())
                        .collect()
                });
                (path(i.id), bytes)
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct SimRemote {
    server: SimServer,
    device: Uuid,
    user: usize,
    workspace: Uuid,
    read_only: bool,
    lose_reply: Arc<Mutex<bool>>,
}

/// The refusals of the real server's `require_role`, as the client's
/// `rpc_error` reports them.
const NOT_A_MEMBER: &str = "this workspace does not exist or you are not a member of it";
const READ_ONLY: &str = "you can read this workspace but not change it";

impl SimRemote {
    fn require_member(&self, state: &State) -> Result<Role, RemoteError> {
        state
            .role(self.workspace, self.user)
            .ok_or_else(|| RemoteError::Unavailable(NOT_A_MEMBER.into()))
    }

    /// The next commit is applied but its reply is lost.
    pub fn lose_next_reply(&self, lose: bool) {
        *self.lose_reply.lock().unwrap() = lose;
    }
}

pub fn hash_of(data: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(data).to_hex())
}

#[async_trait]
impl Remote for SimRemote {
    async fn changes(&self, since: Revision) -> Result<(Vec<ItemState>, Revision), RemoteError> {
        let state = self.server.0.lock().unwrap();
        self.require_member(&state)?;
        let workspace = &state.workspaces[&self.workspace];
        let mut items: Vec<ItemState> = workspace
            .items
            .values()
            .filter(|i| i.revision > since)
            .cloned()
            .collect();
        items.sort_by_key(|i| (i.revision, i.id));
        Ok((items, workspace.revision))
    }

    async fn commit(
        &self,
        request_id: Uuid,
        items: Vec<CommitItem>,
    ) -> Result<CommitReply, RemoteError> {
        assert!(!self.read_only, "a viewer's engine sent a commit");
        let mut guard = self.server.0.lock().unwrap();
        if !self.require_member(&guard)?.can_write() {
            return Err(RemoteError::Unavailable(READ_ONLY.into()));
        }
        let state = &mut *guard;
        let reply = match state.answers.get(&request_id) {
            Some(answer) => answer.clone(),
            None => {
                let workspace_id = self.workspace;
                let workspace = state.workspaces.get_mut(&workspace_id).unwrap();
                let snapshot = Snapshot {
                    workspace_id,
                    items: workspace
                        .items
                        .values()
                        .map(|s| {
                            (
                                s.id,
                                SnapshotItem {
                                    workspace_id,
                                    state: s.clone(),
                                },
                            )
                        })
                        .collect(),
                };
                let plan = plan_commit(snapshot, &items);
                if !plan.writes.is_empty() {
                    workspace.revision += 1;
                }
                let revision = workspace.revision;
                for write in plan.writes {
                    for chunk in &write.content.chunks {
                        assert!(
                            state.objects.contains_key(&chunk.id),
                            "committed a chunk that was never uploaded"
                        );
                    }
                    workspace.items.insert(
                        write.item_id,
                        ItemState {
                            id: write.item_id,
                            parent_id: write.parent_id,
                            name: write.name,
                            is_folder: write.is_folder,
                            deleted: write.deleted,
                            version: write.version,
                            status: write.status,
                            revision,
                            device_id: self.device,
                            modified_at: write.modified_at,
                            committed_at: 0,
                            moved_to: None,
                            chunk_workspace: None,
                            content: write.content,
                        },
                    );
                }
                let results: Vec<ItemResult> = items
                    .iter()
                    .zip(plan.outcomes)
                    .map(|(item, outcome)| ItemResult {
                        id: item.id,
                        outcome: match outcome {
                            // The real server sends the full current state.
                            ItemOutcome::Conflict { current: Some(c) } => ItemOutcome::Conflict {
                                current: Some(Box::new(workspace.items[&c.id].clone())),
                            },
                            other => other,
                        },
                    })
                    .collect();
                let reply = CommitReply { revision, results };
                state.answers.insert(request_id, reply.clone());
                reply
            }
        };
        if std::mem::take(&mut *self.lose_reply.lock().unwrap()) {
            return Err(RemoteError::Unavailable("reply lost".into()));
        }
        Ok(reply)
    }

    async fn upload(&self, mut reader: Box<dyn Read + Send>) -> Result<Content, RemoteError> {
        // The object store refuses a viewer's writes too.
        if !self
            .require_member(&self.server.0.lock().unwrap())?
            .can_write()
        {
            return Err(RemoteError::Unavailable(READ_ONLY.into()));
        }
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        let hash = hash_of(&data);
        let mut chunks = Vec::new();
        if !data.is_empty() {
            let id = blake3::hash(&data).to_hex().to_string();
            let mut state = self.server.0.lock().unwrap();
            if !state.objects.contains_key(&id) {
                state.uploads += 1;
                state.objects.insert(id.clone(), data.clone());
            }
            chunks.push(ChunkRef {
                id,
                size: data.len() as u32,
            });
        }
        Ok(Content {
            size: data.len() as u64,
            content_hash: Some(hash),
            chunks,
            chunker: Some("sim".into()),
        })
    }

    async fn download(
        &self,
        content: &Content,
        _place: Option<&ChunkPlace>,
        mut writer: Box<dyn Write + Send>,
    ) -> Result<(), RemoteError> {
        let mut data = Vec::new();
        {
            let state = self.server.0.lock().unwrap();
            self.require_member(&state)?;
            for chunk in &content.chunks {
                let bytes = state
                    .objects
                    .get(&chunk.id)
                    .ok_or_else(|| RemoteError::Corrupt(format!("chunk {} missing", chunk.id)))?;
                data.extend_from_slice(bytes);
            }
        }
        if Some(hash_of(&data)) != content.content_hash {
            return Err(RemoteError::Corrupt("content hash mismatch".into()));
        }
        writer.write_all(&data)?;
        writer.flush()?;
        Ok(())
    }

    fn hash_content(&self, reader: &mut dyn Read) -> std::io::Result<String> {
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        Ok(hash_of(&data))
    }
}
